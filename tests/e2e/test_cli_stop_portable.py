"""``a2p send`` stops on Ctrl-C through the portable signal path too (``signal.signal``
handlers handing each signal to the loop: what Windows runs, where asyncio has no
``add_signal_handler``), forced here on Linux: the first stop lets requests on the wire finish
and writes the report, the second ends at once, and the journal resumes."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from engine.simulator import FaultSettings, SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.test_cli_stop import SENDER, _env, _events_until, _listing

COUNT = 600
# a2p with the platform switch turned to the portable path before anything runs
PORTABLE_A2P = ("import sys, engine.run.stopsignals as s; s.NATIVE = False; "
                "from engine.cli.commands import main; sys.exit(main())")


def _send(listing: Path, report: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", PORTABLE_A2P, "send", str(listing), "--from", SENDER, "--text",
         "Hi", "--report", str(report), "--no-preflight", "--no-consent",
         "--max-batch-bytes", "1500", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(url))


def _slow_sends() -> SimulatorThread:
    return SimulatorThread(replace(sim_settings(messages_per_second=1e6),
                                   faults=FaultSettings(latency=0.3, scope="send")))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_on_the_portable_path_finishes_what_is_on_the_wire(
        tmp_path: Path, stop: signal.Signals) -> None:
    """One Ctrl-C (or SIGTERM) with the portable handlers: exit 130, the report written and
    interrupted, every batch the server created counted sent in it, fewer than the list."""
    listing, report = _listing(tmp_path, COUNT), tmp_path / "r.json"
    with _slow_sends() as running:
        process = _send(listing, report, running.url)
        assert process.stdout is not None
        _events_until(process.stdout, "chunk_submitted", 1)
        process.send_signal(stop)
        _, err = process.communicate(timeout=60)
        ledger = list(running.simulator.store.ledger())
    stderr = err.decode()
    assert process.returncode == 130, stderr
    assert "a2p: stopping" in stderr
    assert "Traceback" not in stderr
    document = orjson.loads(report.read_bytes())
    assert document["interrupted"] is True
    assert len(ledger) == document["totals"]["sent"] < COUNT


def test_a_second_ctrl_c_on_the_portable_path_ends_at_once(tmp_path: Path) -> None:
    """Two Ctrl-C with the portable handlers: 130 without a report, and --resume then sends
    every recipient exactly once."""
    listing, report = _listing(tmp_path, COUNT), tmp_path / "r.json"
    with _slow_sends() as running:
        process = _send(listing, report, running.url)
        assert process.stdout is not None
        assert process.stderr is not None
        _events_until(process.stdout, "chunk_submitted", 1)
        process.send_signal(signal.SIGINT)
        first = process.stderr.readline().decode()
        while first.startswith("a2p: WARNING"):  # --no-consent's, said before the run
            first = process.stderr.readline().decode()
        assert "a2p: stopping" in first  # the first one was heard: now the second
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        resumed = subprocess.run(
            [sys.executable, "-m", "engine", "send", str(listing), "--from", SENDER, "--text",
             "Hi", "--resume", f"{report}.journal"],
            capture_output=True, env=_env(running.url), timeout=120, check=False)
        ledger = sorted(entry[2] for entry in running.simulator.store.ledger())
    stderr = first + err.decode()
    assert process.returncode == 130, stderr
    assert "second interrupt" in stderr
    assert "interrupted at once; no report was written" in stderr
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert ledger == [f"+1415555{i:04d}" for i in range(COUNT)]
