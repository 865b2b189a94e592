"""What the a2p commands say of a scheduled send's times and state: the real clock they keep
(even with A2P_SIM_CLOCK set), a past --at labelled as now and a past --expire-at named in
the plan, and the summary line and exit code of a run waiting or expired."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import commands
from engine.cli import summary as cli
from engine.simulator.clock import CLOCK_ENV
from tests.test_plan_schedule import national_list, plan


def test_the_clock_variable_named_is_the_simulators() -> None:
    """The CLI names the very variable the simulator's clock is shared through."""
    assert commands.SIM_CLOCK_ENV == CLOCK_ENV


def test_a_command_says_it_keeps_the_real_clock_when_a2p_sim_clock_is_set(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With A2P_SIM_CLOCK exported, a2p plan says it judges by the real clock and how to
    rehearse on simulated days (the library); without it, nothing is said."""
    listed = national_list(tmp_path)
    code, _, err = plan(capsys, listed, "--quiet-hours", "strict")
    assert code == 0
    assert "keeps the real clock" not in err
    monkeypatch.setenv(CLOCK_ENV, "2026-12-12T05:00:00-05:00@x600@1.0")
    code, _, err = plan(capsys, listed, "--quiet-hours", "strict")
    assert code == 0
    assert f"{CLOCK_ENV} is set, but the a2p command keeps the real clock" in err
    assert "engine.send(..., clock=sim.clock, wall=sim.wall, sleep=sim.sleep)" in err


def test_a_past_at_is_labelled_now_in_the_plan(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """--at four days ago: the first possible send is now, and the plan says --at is past
    rather than calling now "(--at)"."""
    code, out, _ = plan(capsys, national_list(tmp_path), "--quiet-hours", "strict",
                        "--at", "2026-12-01T09:00[America/New_York]",
                        now="2026-12-05T08:38:00Z")
    assert code == 0
    assert ("first possible send 2026-12-05T08:38:00Z (now: --at 2026-12-01T14:00:00Z is "
            "already past)") in out
    assert "(--at)" not in out


def test_the_plan_says_when_the_first_wave_opens_after_the_first_possible_send(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """At 03:38 Eastern nobody's window is open: the plan says the first wave opens at 8:00
    Eastern, beside the first possible send (now)."""
    _, out, _ = plan(capsys, national_list(tmp_path), "--quiet-hours", "strict",
                     now="2026-12-05T08:38:00Z")
    assert ("first possible send 2026-12-05T08:38:00Z; first wave opens "
            "2026-12-05T13:00:00Z") in out


def test_a_future_at_keeps_its_label(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--at ahead: the first possible send is --at's, labelled so."""
    _, out, _ = plan(capsys, national_list(tmp_path), "--at",
                     "2026-12-07T09:00[America/New_York]", now="2026-12-05T08:38:00Z")
    assert "first possible send 2026-12-07T14:00:00Z (--at)" in out


def test_a_past_expire_at_is_named_in_the_plan(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """--expire-at four days ago: the plan says send refuses it."""
    _, out, _ = plan(capsys, national_list(tmp_path), "--expire-at", "2026-12-01T09:00Z",
                     now="2026-12-05T08:38:00Z")
    assert "--expire-at 2026-12-01T09:00:00Z is already past: a2p send refuses it" in out


def scheduled(status: str, **left: int) -> dict[str, object]:
    return {"interrupted": False, "status": status,
            "totals": {"sent": 90, "rejectedLocal": 7, "rejectedServer": 0, "pending": 0,
                       "failedChunks": 0, "unknownChunks": 0, "deferred": 0, "expired": 0,
                       "dailyCap": 0, **left}}


def test_an_expired_run_exits_0_saying_how_many_expired(
        capsys: pytest.CaptureFixture[str]) -> None:
    """An expired run has ended: exit 0, and the line counts the expired recipients."""
    assert cli.finish(scheduled("expired", expired=2999), "r.json") == 0
    line = capsys.readouterr().err
    assert line.startswith("a2p: expired: 90 sent")
    assert "2,999 expired (--expire-at passed: not sent, the run has ended)" in line


def test_a_waiting_run_that_ends_here_exits_0_saying_what_is_left(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A waiting run that was not told to exit 75 (its summary line): exit 0, the recipients
    left for later rounds counted."""
    assert cli.finish(scheduled("waiting", deferred=40, dailyCap=2), "r.json") == 0
    assert "42 left for later rounds" in capsys.readouterr().err


def test_a_run_ended_with_only_no_window_recipients_left_says_so(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A run left only with recipients whose window never opens has ended: completed, exit 0,
    and the line counts them as not sent rather than left for later rounds."""
    assert cli.finish(scheduled("completed", noWindow=5), "r.json") == 0
    line = capsys.readouterr().err
    assert "5 with no window under the quiet-hours policy (not sent)" in line
    assert "later rounds" not in line
