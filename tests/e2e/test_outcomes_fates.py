"""``a2p outcomes --only`` takes a scheduled send's fates (deferred, daily-cap, expired), as
the README and docs/outcomes.md name them: the not-sent rows with that ``fate``, no other row,
on the fake clock (the run of tests/e2e/test_schedule_fates.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import get_args

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import UsageError
from engine.results.export import Export
from engine.results.names import FATES, FILTERS, OutcomeFilter
from engine.results.rows import Row
from engine.schedule.fates import FateKind
from tests.e2e.conftest import ledger_numbers
from tests.e2e.test_schedule_fates import CAP, EXPIRE_AT, START, fates_list
from tests.e2e.test_schedule_rounds import FakeTime, Start, opening, send
from tests.e2e.test_schedule_rounds import start as start  # the fake-clock simulator


async def only(journal: Path, settings: engine.Settings, time: FakeTime,
               *names: OutcomeFilter) -> list[Row]:
    return [row async for row in engine.outcomes(journal, config=settings, only=names,
                                                 credentials=DEMO_CREDENTIALS,
                                                 wall=time.wall)]


def test_the_fate_filters_are_the_fates() -> None:
    """--only takes every fate a recipient left can have, and lists them in its help."""
    assert get_args(FateKind) == FATES
    assert set(FATES) <= set(FILTERS)


async def test_only_a_fate_writes_the_not_sent_rows_of_that_fate(start: Start, tmp_path: Path
                                                                ) -> None:
    """After the first round: --only daily-cap is the 49 New Yorkers the cap held, --only
    deferred the 70 whose window is shut, together all the not-sent rows; past --expire-at,
    --only expired is all 119 and --only deferred none."""
    time, running, settings, zones, watch = await opening(start, tmp_path, fates_list,
                                                           START)
    journal = tmp_path / "run.journal"
    await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
               quiet_hours="tcpa", daily_cap=CAP, expire_at=EXPIRE_AT, exit_when_waiting=True)
    sent = set(ledger_numbers(running))
    capped = await only(journal, settings, time, "daily-cap")
    deferred = await only(journal, settings, time, "deferred")
    assert len(capped) == 50  # 150 New Yorkers, 100 sent
    assert {zones[str(row.to)] for row in capped} == {"America/New_York"}
    assert len(deferred) == 70
    assert {row.fate for row in capped} == {"daily-cap"}
    assert {row.fate for row in deferred} == {"deferred"}
    not_sent = await only(journal, settings, time, "not-sent")
    assert sorted(r.position for r in capped + deferred) == sorted(r.position for r in not_sent)
    assert not {str(row.to) for row in not_sent} & sent
    assert await only(journal, settings, time, "expired") == []

    time.t = datetime.fromisoformat(EXPIRE_AT).timestamp() + 60
    await send(None, settings, time, watch, resume=journal)
    expired = await only(journal, settings, time, "expired")
    assert len(expired) == 120
    assert {row.fate for row in expired} == {"expired"}
    assert {str(row.to) for row in expired} == set(zones) - sent
    assert await only(journal, settings, time, "deferred", "daily-cap") == []


def test_a_name_that_is_no_outcome_nor_fate_is_refused(tmp_path: Path) -> None:
    """A misspelt fate is refused naming the names --only takes, the fates among them."""
    misspelt: tuple[OutcomeFilter, ...] = ("expird",)  # type: ignore[assignment]
    with pytest.raises(UsageError, match=r"not an outcome\. Use one of: .*daily-cap, expired"):
        Export(tmp_path / "none.journal", only=misspelt)
