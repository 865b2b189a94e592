"""The seeded soak in CI: a few seeds of random fault combinations, kills and resumes, then the
fault heals and one ``--resume`` leaves nobody unsent, nobody texted twice, no chunk unknown,
and the report, ``a2p outcomes`` and the simulator's ledger in agreement.

By default CI runs the few seeds that together draw every mode of the registry
(``covering_seeds``); ``A2P_SOAK_START=S A2P_SOAK_SEEDS=N`` runs seeds S to S+N-1 instead (a
failure names its seed and the command that replays it); ``python -m benchmarks soak`` runs
hundreds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.simulator.settings import faults_from_mapping
from tests.chaos.soak import SOAK_MODES, covering_seeds, draw, soak_scenario, soak_table

SEEDS = int(os.environ.get("A2P_SOAK_SEEDS", "7"))
START = os.environ.get("A2P_SOAK_START")
CHOSEN = covering_seeds(SEEDS) if START is None else list(range(int(START), int(START) + SEEDS))


def test_every_draw_is_a_valid_fault_setting_and_replays_from_its_seed() -> None:
    """Each seed's draw is accepted by the simulator (as PUT /_sim/faults reads it) and is
    the same every time the seed is drawn, so a failing seed replays."""
    for seed in range(300):
        first = draw(seed)
        faults_from_mapping(first.faults)  # raises on a field the simulator does not know
        assert draw(seed) == first
        assert 1 <= len(first.modes) <= 4
        assert 500 <= first.recipients <= 3000


def test_two_hundred_seeds_draw_every_mode() -> None:
    """Over the 200 seeds of the published soak, every mode of the registry is drawn, alone
    strength aside, beside others, in several seeds."""
    drawn = [draw(seed).modes for seed in range(200)]
    for mode in SOAK_MODES:
        assert sum(mode.name in modes for modes in drawn) >= 5, mode.name
    assert any(len(modes) >= 3 for modes in drawn)
    assert sum(len(draw(seed).kills) for seed in range(200)) >= 200


def test_the_ci_seeds_draw_every_mode() -> None:
    """The few seeds CI runs meet every mode of the registry (a mode appended to it joins
    them; when they cannot, raise A2P_SOAK_SEEDS's default)."""
    drawn = {mode for seed in covering_seeds(7) for mode in draw(seed).modes}
    assert drawn == {mode.name for mode in SOAK_MODES}


@pytest.mark.slow
@pytest.mark.timeout(120 + 60 * len(CHOSEN))
def test_soak_after_the_heal_and_one_resume_nobody_is_twice_or_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Across seeds: 0 duplicates, 0 losses, nothing unsent and no chunk unknown after the
    heal and one resume, rejections exact, report, outcomes and ledger agreeing."""
    results = []
    for seed in CHOSEN:
        work = tmp_path / f"seed-{seed}"
        work.mkdir()
        results.append(soak_scenario(seed, work, max_recipients=1500))
    with capsys.disabled():
        print("\n" + soak_table(results))
    failed = {r.outcome.seed: (r.outcome.problems, r.replay()) for r in results if r.failed}
    assert failed == {}
    assert sum(sum(r.outcome.met.values()) for r in results) > 0  # faults really met
    assert sum(r.outcome.kills for r in results) > 0  # and kills really landed
