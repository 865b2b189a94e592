"""The README's cron recipe runs as written, the way cron runs it: its line's command, taken
from the README, under ``/bin/sh`` with an empty environment (``env -i``), against a
simulator on loopback. A campaign that waits exits 75 (cron's "come back later"); an ended
or finished one exits 0 (75 while a tick overlaps another) and texts nobody twice. Also the
resume's refusal of another ``--window-margin`` speaks minutes, the flag's unit."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.run.journallock import JournalLock
from engine.simulator import RunningSimulator
from tests.e2e.conftest import SENDER
from tests.e2e.test_cli_exit_codes import DEMO, a2p, numbers, sim_env
from tests.e2e.test_cli_exit_codes import server as server  # the simulator, real clock

README = Path(__file__).resolve().parents[2] / "README.md"
CRON = re.compile(r"^ +\*/5 \* \* \* \* (cd (\S+) && (\S+/\.venv/bin/a2p) .+)$", re.MULTILINE)


def cron_command(campaign: Path) -> str:
    """The README's cron line's command, for this campaign's folder and this venv's a2p."""
    found = CRON.search(README.read_text())
    assert found is not None, "the README has no cron line naming a venv's a2p"
    command, folder, program = found.groups()
    a2p_here = Path(sys.executable).with_name("a2p")
    assert a2p_here.is_file(), f"{a2p_here}: the package is not installed in this venv"
    return command.replace(f"cd {folder}", f"cd {campaign}").replace(program, str(a2p_here))


def tick(command: str) -> int:
    """One cron tick: /bin/sh -c COMMAND with nothing in its environment (env -i)."""
    return subprocess.run(["/bin/sh", "-c", command], env={}, timeout=120,
                          check=False).returncode


def campaign(tmp_path: Path, server: RunningSimulator, *schedule: str) -> Path:
    """A campaign folder with its .env (the simulator's URL and demo credentials), started
    by hand as the README says: its journal and report named."""
    folder = tmp_path / "campaign"
    folder.mkdir()
    numbers(folder / "list.txt")
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in sim_env(server).items()))
    started = a2p(["--env-file", ".env", "send", "list.txt", "--from", SENDER, "--text", "Hi",
                   *schedule, "--journal", "campaign.journal", "--report", "campaign.json",
                   "--exit-when-waiting"], cwd=folder)
    assert started.returncode in (0, 75), started.stderr
    return folder


def test_the_readme_starts_the_journal_its_cron_line_resumes() -> None:
    """The hand start names campaign.journal, the journal the cron line resumes."""
    text = README.read_text()
    assert "--journal campaign.journal" in text
    found = CRON.search(text)
    assert found is not None
    assert "--env-file .env send --resume campaign.journal --exit-when-waiting" in found[1]
    assert ">> campaign.log 2>&1" in found[1]


def test_a_waiting_campaign_s_cron_tick_exits_75_then_0_once_ended(tmp_path: Path,
                                                 server: RunningSimulator) -> None:
    """A campaign starting tomorrow: the README's line, under env -i, exits 75 and logs
    the waiting line; nobody is texted. Ended by hand (--expire-at now), the next tick
    exits 0, saying the cron line can go."""
    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    folder = campaign(tmp_path, server, "--at", at)
    command = cron_command(folder)
    assert tick(command) == 75
    log = (folder / "campaign.log").read_text()
    assert "waiting for --at until" in log
    assert "not found" not in log
    ended = a2p(["--env-file", ".env", "send", "--resume", "campaign.journal",
                 "--expire-at", "now"], cwd=folder)
    assert ended.returncode == 0, ended.stderr
    assert tick(command) == 0
    assert "remove the cron line" in (folder / "campaign.log").read_text()
    assert list(server.simulator.store.ledger()) == []


def test_a_finished_campaign_s_cron_tick_exits_0_and_texts_nobody_twice(
        tmp_path: Path, server: RunningSimulator) -> None:
    """A scheduled campaign sent whole at its start: the README's line exits 75 while
    another process holds the journal (a tick overlapping a long round), then 0, sending
    nothing more, its log saying the run has ended and the cron line can go."""
    before = len(list(server.simulator.store.ledger()))
    folder = campaign(tmp_path, server, "--daily-cap", "100")
    sent = len(list(server.simulator.store.ledger())) - before
    assert sent == 5
    command = cron_command(folder)
    with JournalLock(folder / "campaign.journal", "a2p send --resume (a long round)",
                     create=False):
        assert tick(command) == 75
    assert "a long round" in (folder / "campaign.log").read_text()
    assert tick(command) == 0
    assert "has ended (schedule.state done): remove the cron line" in \
        (folder / "campaign.log").read_text()
    assert len(list(server.simulator.store.ledger())) - before == sent


def test_a_resume_with_another_window_margin_is_refused_in_minutes(
        tmp_path: Path, server: RunningSimulator) -> None:
    """--window-margin 5 on a run begun with the default is refused naming 10 (minutes), the
    value to give again; given 10, the resume goes on."""
    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    folder = campaign(tmp_path, server, "--at", at)
    env = {**DEMO, "RC_SERVER_URL": server.url}
    other = a2p(["send", "--resume", "campaign.journal", "--exit-when-waiting",
                 "--window-margin", "5"], env=env, cwd=folder)
    assert other.returncode == 2
    assert "began with --window-margin 10 (minutes" in other.stderr
    same = a2p(["send", "--resume", "campaign.journal", "--exit-when-waiting",
                "--window-margin", "10"], env=env, cwd=folder)
    assert same.returncode == 75, same.stderr
