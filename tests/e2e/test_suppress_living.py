"""A living do-not-contact file (``--suppress FILE``) against the simulator: a run keeps the
set it read beside its journal (``<journal>.suppress``); a resume judges by that copy and
suppresses the numbers the file gained since among the recipients not yet sent; 'a2p
outcomes' reads the copy, whatever became of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import OPTED_OUT
from engine.errors import JournalError
from engine.results.export import Export
from engine.run.suppresskept import kept_path
from engine.types import Report
from tests.e2e.conftest import SENDER, Start, StopAfter, ledger_numbers

NOT_ON_THE_LIST = "+12025550199"


def numbers(n: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(n)]


async def outcomes(journal: Path, settings: engine.Settings) -> tuple[dict[str, str], Any]:
    """'a2p outcomes' in process: the opted-out rows (number: description), the totals."""
    async with Export(journal, config=settings, credentials=DEMO_CREDENTIALS) as export:
        rows = [row async for row in export.rows()]
    opted = {row.to or "": row.description for row in rows if row.errorCode == OPTED_OUT}
    return opted, export.totals.as_json()


@pytest.mark.parametrize("consent", [False, True])
@pytest.mark.parametrize("change", ["grown", "gone"])
async def test_a_resume_applies_what_the_file_gained_and_outcomes_outlive_the_file(
        start: Start, tmp_path: Path, consent: bool, change: str) -> None:
    """A run with --suppress dnc.txt stopped after its first batch; during the stop a number
    not yet sent is added to dnc.txt and one is taken out (or the file is deleted): the
    resume never texts the added one nor any the run read, counts them suppressed and says
    so; 'a2p outcomes' then agrees with the report after dnc.txt changes again and after it
    is deleted."""
    running, settings = await start()
    items = numbers(400)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in items))
    dnc = tmp_path / "dnc.txt"
    first_read = [items[3], items[7], items[-1]]  # items[-1]: taken out of the file later
    dnc.write_text("".join(f"{n}\n" for n in first_read))
    journal = tmp_path / "run.journal"
    after = StopAfter()
    stop, stop_after_first = after.stop, after.on_event

    common: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                              "consent": consent, "preflight": False}
    first = await engine.send(listing, sender=SENDER, text="Hi", on_event=stop_after_first,
                              max_batch_messages=50, concurrency=1, journal=journal,
                              stop=stop, suppress=[dnc], **common)
    assert first["status"] == "interrupted"
    assert kept_path(journal).is_file()
    sent_first = set(ledger_numbers(running))
    assert items[-1] not in sent_first
    victim = next(n for n in reversed(items[:-1]) if n not in sent_first)
    if change == "grown":  # the CRM's new STOPs in, one old one out
        dnc.write_text(f"{items[3]}\n{items[7]}\n{NOT_ON_THE_LIST}\n{victim}\n")
        suppressed = {*first_read, victim}
    else:
        dnc.unlink()
        suppressed = set(first_read)

    warnings: list[str] = []

    async def collect(event: dict[str, Any]) -> None:
        if event["event"] == "warning" and event.get("code") == "suppress":
            warnings.append(event["message"])

    report = await engine.send(resume=journal, on_event=collect, **common)
    assert report["status"] == "completed"
    ledger = ledger_numbers(running)
    assert not set(ledger) & suppressed
    assert sorted(ledger) == sorted(set(items) - suppressed)  # everyone else exactly once
    assert report["totals"]["suppressed"] == {"file": len(suppressed)}
    if change == "grown":
        (said,) = warnings
        assert f"--suppress {dnc} gained 2 numbers since the run began" in said
        assert "taken out of it since stay suppressed" in said
        gated = [r for r in report["rejected"] if r["to"] == victim]
        assert [r["errorCode"] for r in gated] == [OPTED_OUT]
        assert f"is on the suppression list {dnc} (line 4)" in gated[0]["description"]
    else:
        (said,) = warnings
        assert f"--suppress {dnc}: the list is gone" in said
        assert str(kept_path(journal)) in said
    assert said in report["warnings"]

    for later in ("changed", "deleted"):
        if later == "changed":
            dnc.write_text(f"{items[0]}\n{items[1]}\n")
        else:
            dnc.unlink(missing_ok=True)
        opted, totals = await outcomes(journal, settings)
        assert set(opted) == suppressed
        assert totals["rejected-local"] == report["totals"]["rejectedLocal"] == len(suppressed)
        assert totals["rows"] == len(items)


async def test_a_journal_without_its_copy_still_refuses_a_changed_file(
        start: Start, tmp_path: Path) -> None:
    """A journal whose copy is missing (an older run's) reads the file again and refuses a
    resume when it lists other numbers, before any POST."""
    running, settings = await start()
    items = numbers(200)
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(f"{items[-1]}\n")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in items))
    journal = tmp_path / "run.journal"
    after = StopAfter()
    stop, stop_after_first = after.stop, after.on_event

    await engine.send(listing, sender=SENDER, text="Hi", config=settings,
                      credentials=DEMO_CREDENTIALS, consent=False, preflight=False,
                      on_event=stop_after_first, max_batch_messages=50, concurrency=1,
                      journal=journal, stop=stop, suppress=[dnc])
    sent = len(ledger_numbers(running))
    kept_path(journal).unlink()
    dnc.write_text(f"{items[-2]}\n")
    with pytest.raises(JournalError, match=r"dnc\.txt changed since the run began"):
        await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS,
                          consent=False, preflight=False)
    assert len(ledger_numbers(running)) == sent


async def test_a_number_gained_stays_unsent_when_the_file_loses_it_before_a_second_resume(
        start: Start, tmp_path: Path) -> None:
    """The first resume suppresses a number the file gained and is stopped; the file then
    loses it again: the second resume still never texts that recipient (its journaled
    rejection is dropped from what is read again), and everyone else is texted once."""
    running, settings = await start()
    items = numbers(400)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in items))
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(f"{items[3]}\n")
    journal = tmp_path / "run.journal"
    common: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                              "consent": False, "preflight": False,
                              "max_batch_messages": 50, "concurrency": 1}

    async def stopped(**options: Any) -> Report:
        after = StopAfter()
        stop, stop_after_first = after.stop, after.on_event

        return await engine.send(on_event=stop_after_first, stop=stop, **common, **options)

    first = await stopped(recipients=listing, sender=SENDER, text="Hi", journal=journal,
                          suppress=[dnc])
    assert first["status"] == "interrupted"
    sent_first = set(ledger_numbers(running))
    victim = next(n for n in items if n not in sent_first and n != items[3])
    dnc.write_text(f"{items[3]}\n{victim}\n")
    second = await stopped(resume=journal)
    assert second["status"] == "interrupted"
    assert victim not in ledger_numbers(running)
    assert [r["to"] for r in second["rejected"] if r["to"] == victim] == [victim]
    dnc.write_text(f"{items[3]}\n")  # the CRM drops it again
    third = await engine.send(resume=journal, **common)
    assert third["status"] == "completed"
    ledger = ledger_numbers(running)
    assert sorted(ledger) == sorted(set(items) - {items[3], victim})
    assert third["totals"]["suppressed"] == {"file": 2}
