"""With --dedupe, every repeat of a number a consent record suppresses is LCL-OPTED-OUT, as a
repeat of a --suppress number is, never LCL-DUPLICATE: the report's totals and rejections, the
events and ``a2p outcomes --only suppressed`` all count each record of it (cold review of issue
21, M5)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import DUPLICATE, OPTED_OUT
from engine.reading import ReadOptions
from tests.e2e.conftest import SENDER, Start, ledger_numbers

OTHER = "+16505550101"  # another sender of the account (tests/conftest.py sim_settings)


async def test_repeats_of_a_consent_opt_out_are_opted_out_not_duplicates(
        start: Start, tmp_path: Path) -> None:
    """x opted out (a consent record) and y on a --suppress file, each three times in the
    list (written otherwise too), and z a plain repeat: x and y are LCL-OPTED-OUT three times
    each, by source, in report, events and outcomes alike; z's repeat stays a duplicate."""
    running, settings = await start()
    x, y, z = "+14155550901", "+14155550902", "+14155550903"
    running.simulator.store.consents.set(OTHER, x, "OptOut", "Recipient", time.time())
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(y + "\n")
    others = [f"+1415555{k:04d}" for k in range(10)]
    items = [*others, x, y, z, "(415) 555-0901", y, "+1 415 555 0901", "14155550902", z]
    src = tmp_path / "list.txt"
    src.write_text("\n".join(items) + "\n")
    journal = tmp_path / "run.journal"
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    report = await engine.send(str(src), sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, suppress=[dnc], journal=journal,
                               on_event=collect, read=ReadOptions(batch_text="Hi", dedupe=True))
    assert sorted(ledger_numbers(running)) == sorted([*others, z])
    assert report["totals"]["suppressed"] == {"file": 3, "consent": 3}
    assert report["totals"]["records"] == len(items)
    by_code = Counter((r["index"], r["errorCode"]) for r in report["rejected"])
    opted = {k for k, n in enumerate(items) if n not in others and k not in (12, 17)}
    assert by_code == Counter({**{(k, OPTED_OUT): 1 for k in opted}, (17, DUPLICATE): 1})
    told = Counter((e["index"], e["errorCode"]) for e in events if e["event"] == "rejected")
    assert told == by_code
    consent_rows = [r for r in report["rejected"] if r["index"] in (10, 13, 15)]
    assert all("RingCentral consent record" in r["description"] for r in consent_rows)
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS,
                                                 only=("suppressed",))]
    assert sorted(row.position for row in rows) == sorted(opted)
    assert {row.errorCode for row in rows} == {OPTED_OUT}


def test_plan_counts_repeats_of_a_consent_opt_out_as_suppressed(tmp_path: Path) -> None:
    """``a2p plan --consent --dedupe`` counts each record of an opted-out number (written
    otherwise too) as suppressed by consent, as the send does, not as a duplicate."""
    from engine.simulator import SimulatorThread
    from tests.conftest import sim_settings
    from tests.e2e.test_cli_suppress import a2p

    x = "+14155550901"
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in (
        "+14155550001", x, "+14155550002", "(415) 555-0901", "+14155550002", x)))
    with SimulatorThread(sim_settings()) as running:
        running.simulator.store.consents.set(OTHER, x, "OptOut", "Recipient", time.time())
        done = a2p(running, "plan", str(listing), "--from", SENDER, "--text", "Hi",
                   "--consent", "--dedupe", "--json")
        assert done.returncode == 0, done.stderr.decode()
        plan = orjson.loads(done.stdout)
    assert plan["suppressed"] == {"consent": 3}
    assert plan["rejectedByCode"] == {OPTED_OUT: 3, DUPLICATE: 1}
