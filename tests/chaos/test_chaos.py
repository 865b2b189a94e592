"""Chaos: killed at random moments under faults and resumed, a run still accepts each valid
recipient exactly once, loses none, and reports every rejection at its position.

The default is sized for CI; ``A2P_CHAOS_SEEDS=40`` (or ``python -m tests.chaos.harness``)
soaks longer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.chaos.harness import (
    LOST_ANSWER_MODES,
    LOST_ANSWERS,
    SPLIT_MODES,
    TOKEN_MODES,
    Outcome,
    scenario,
    table,
)

SEEDS = int(os.environ.get("A2P_CHAOS_SEEDS", "8"))


def clean_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, seed: int,
                modes: Sequence[dict[str, Any]], *, max_kills: int) -> list[Outcome]:
    """One scenario per mode (1,500 recipients, seeds from ``seed``, work in
    ``name-k``), its table printed; none may report a problem."""
    outcomes = []
    for k, mode in enumerate(modes):
        work = tmp_path / f"{name}-{k}"
        work.mkdir()
        outcomes.append(scenario(seed + k, work, recipients=1500, max_kills=max_kills,
                                 mode=mode))
    with capsys.disabled():
        print("\n" + table(outcomes))
    assert [o.problems for o in outcomes] == [[] for _ in outcomes]
    return outcomes
pytestmark = pytest.mark.slow  # minutes: `pytest -m "not slow"` leaves them out


@pytest.mark.timeout(60 + 45 * SEEDS)
def test_kill_resume_under_faults_never_duplicates_or_loses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Across seeds: zero duplicates, zero losses, exact rejections, totals that add up."""
    outcomes = []
    for seed in range(SEEDS):
        work = tmp_path / f"seed-{seed}"
        work.mkdir()
        outcomes.append(scenario(seed, work))
    with capsys.disabled():
        print("\n" + table(outcomes))
    assert sum(o.kills for o in outcomes) >= SEEDS // 2  # the kills really happened
    if SEEDS >= 8:  # and at every stage: mid-submission, during tracking, at random times
        assert {s for o in outcomes for s in o.stages} >= {"submitted", "completed", "time"}
    assert [o.problems for o in outcomes] == [[] for _ in outcomes]
    assert sum(o.duplicates for o in outcomes) == 0
    assert sum(o.losses for o in outcomes) == 0


@pytest.mark.timeout(60 + 40 * len(LOST_ANSWER_MODES))
def test_every_lost_answer_mode_under_kills_never_duplicates_or_loses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each lost-answer fault mode (late creation after a 504 or a timeout, listing lag,
    messages listed only once processing, a server clock 5 minutes off either way, small
    pages among other campaigns, answers in small pieces, a message store lagging
    Completed, a 5xx in HTML or JSON after the batch was created, answers held past the
    timeout, an outage that heals after the run, a gateway's Date from another clock, its
    unreadable 2xx, its 4xx page, a 201 with another batch's body), killed and resumed: zero
    duplicates, zero
    losses, no chunk left unknown, since the server's history decides, nobody pending, since
    the store catches up, and after an outage one --resume leaves nothing failed."""
    outcomes = clean_modes(tmp_path, capsys, "mode", 100, LOST_ANSWER_MODES, max_kills=1)
    assert [(o.duplicates, o.losses, o.unknown, o.pending) for o in outcomes] == \
        [(0, 0, 0, 0) for _ in outcomes]  # the store_window outlasts the store's lag
    met = [sum(o.met[k] for k in LOST_ANSWERS) for o in outcomes]
    assert all(met), met  # every mode really lost answers
    outage = [o for o, mode in zip(outcomes, LOST_ANSWER_MODES, strict=True)
              if mode.get("outage_status")]
    assert outage
    assert all(o.healed for o in outage)  # its chunks failed proved-absent, then were resent


@pytest.mark.timeout(60 + 45 * 2)
def test_tokens_expiring_again_and_again_under_kills_never_duplicate_lose_or_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every token dies after two requests and half the refreshes are refused, killed and
    resumed: zero duplicates, zero losses, nothing unknown, and every run ends 0 (a 401 never
    fails a chunk)."""
    outcomes = clean_modes(tmp_path, capsys, "token", 200, TOKEN_MODES * 2, max_kills=1)
    assert [(o.duplicates, o.losses, o.unknown) for o in outcomes] == \
        [(0, 0, 0) for _ in outcomes]
    assert all(o.met["token_expired"] and o.met["refresh_refused"] for o in outcomes)
    for k in range(len(outcomes)):  # and no chunk failed for a 401
        report = orjson.loads((tmp_path / f"token-{k}" / "report.json").read_bytes())
        assert [b["status"] for b in report["batches"] if b["status"] == "failed"] == []
    assert not any(o.healed for o in outcomes)  # no run left a chunk failed to be healed


@pytest.mark.timeout(60 + 45 * 3)
def test_splits_under_kills_never_duplicate_or_lose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every chunk first cut answered 413 and split, killed up to three times and resumed:
    zero duplicates, zero losses, nothing unknown, and totals that add up."""
    outcomes = clean_modes(tmp_path, capsys, "split", 300, SPLIT_MODES * 3, max_kills=3)
    assert [(o.duplicates, o.losses, o.unknown) for o in outcomes] == \
        [(0, 0, 0) for _ in outcomes]
    assert all(o.met["413"] for o in outcomes)  # the chunks really were split
    assert sum(o.kills for o in outcomes) >= 1
