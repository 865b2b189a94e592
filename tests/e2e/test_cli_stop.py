"""A stop that stops: after Ctrl-C no request that creates a batch starts, whatever it was
waiting for; a second Ctrl-C ends at once and the journal still resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import orjson
import pytest

from engine.simulator import FaultSettings, GroupLimit, SimulatorThread
from tests.conftest import sim_settings

SENDER = "+16505550100"
DEMO = {"RC_APP_CLIENT_ID": "demo-client-id", "RC_APP_CLIENT_SECRET": "demo-client-secret",
        "RC_USER_JWT": "demo-user-jwt"}


def _env(url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    return {**base, **DEMO, "RC_SERVER_URL": url}


def _listing(tmp_path: Path, count: int) -> Path:
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"+1415555{i:04d}\n" for i in range(count)))
    return listing


def _send(listing: Path, report: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    """``a2p send`` started in the background, its events and diagnostics on pipes. The
    pre-flight and the opt-out read are skipped: their requests would take from the tight
    Light budget these tests count POSTs against."""
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "send", str(listing), "--from", SENDER, "--text", "Hi",
         "--report", str(report), "--no-preflight", "--no-consent", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(url))


def _events_until(stream: IO[bytes], kind: str, count: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while sum(e["event"] == kind for e in seen) < count:
        line = stream.readline()
        assert line, f"the run ended before {count} {kind} events: {seen}"
        seen.append(orjson.loads(line))
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_stop_while_posts_wait_for_the_rate_budget_sends_none_of_them(
        tmp_path: Path, stop: signal.Signals) -> None:
    """The Light budget allows 3 requests a minute: three batches go out, the rest wait for
    the budget. Ctrl-C (or SIGTERM) then: the server's ledger holds exactly the three, the
    run ends with 130 long before the minute is over, and the last line says how to
    resume."""
    settings = replace(sim_settings(messages_per_second=1e6),
                       light=GroupLimit(3, 60.0, 60.0))
    profile = tmp_path / "slow.toml"
    profile.write_text("[server]\nurl = 'http://127.0.0.1:1'\n"
                       "[rate_limit]\nlight_requests = 3\nlight_window = 60.0\n")
    listing, report = _listing(tmp_path, 400), tmp_path / "r.json"
    with SimulatorThread(settings) as running:
        process = _send(listing, report, running.url, "--profile", str(profile),
                        "--max-batch-bytes", "1500", "--wait", "accepted", "--concurrency", "2")
        assert process.stdout is not None
        seen = _events_until(process.stdout, "chunk_submitted", 3)
        process.send_signal(stop)
        out, err = process.communicate(timeout=40)  # the budget would hold it for ~60 s
        ledger = list(running.simulator.store.ledger())
        batches = len(running.simulator.store.batches)
    stderr = err.decode()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert batches == 3
    submitted = [e for e in seen + [orjson.loads(x) for x in out.splitlines()]
                 if e["event"] == "chunk_submitted"]
    assert len(submitted) == 3
    assert len(ledger) == sum(e["batchSize"] for e in submitted)
    document = orjson.loads(report.read_bytes())
    assert document["interrupted"] is True
    held = [b for b in document["batches"] if b["status"] == "planned"]
    assert all(b["attempts"] == 0 for b in held)
    assert f"--resume {report}.journal" in stderr.splitlines()[-1]


@pytest.mark.slow
def test_second_interrupt_ends_at_once_and_the_journal_resumes(tmp_path: Path) -> None:
    """Two Ctrl-C while slow POSTs are on the wire: the run ends at once (130, no report),
    and --resume then delivers every recipient exactly once."""
    settings = replace(sim_settings(messages_per_second=1e6),
                       faults=FaultSettings(latency=0.5, scope="send"))
    listing, report = _listing(tmp_path, 600), tmp_path / "r.json"
    with SimulatorThread(settings) as running:
        env = _env(running.url)
        process = _send(listing, report, running.url, "--max-batch-bytes", "1500")
        assert process.stdout is not None
        _events_until(process.stdout, "chunk_submitted", 1)
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        first = process.stderr.readline().decode()
        while first.startswith("a2p: WARNING"):  # --no-consent's, said before the run
            first = process.stderr.readline().decode()
        assert "a2p: stopping" in first  # the first one was seen: now the second
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=40)
        stderr = first + err.decode()
        resumed = subprocess.run(
            [sys.executable, "-m", "engine", "send", str(listing), "--from", SENDER, "--text",
             "Hi", "--resume", f"{report}.journal"],
            capture_output=True, env=env, timeout=120, check=False)
        ledger = sorted(entry[2] for entry in running.simulator.store.ledger())
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "second interrupt" in stderr
    assert "interrupted at once" in stderr
    assert f"--resume {report}.journal" in stderr
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert ledger == [f"+1415555{i:04d}" for i in range(600)]


def test_stop_ends_tracking_at_once(tmp_path: Path) -> None:
    """Tracking between polls five minutes apart: Ctrl-C ends the run now (130, report
    written, status interrupted), not at the next poll."""
    settings = sim_settings(messages_per_second=1.0)
    profile = tmp_path / "patient.toml"
    profile.write_text("[server]\nurl = 'http://127.0.0.1:1'\n"
                       "[polling]\ninterval = 300.0\nmax_interval = 300.0\n")
    listing, report = _listing(tmp_path, 50), tmp_path / "r.json"
    with SimulatorThread(settings) as running:
        process = _send(listing, report, running.url, "--profile", str(profile))
        assert process.stdout is not None
        _events_until(process.stdout, "chunk_submitted", 1)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)  # the next poll is 300 s away
    assert process.returncode == 130, err.decode()
    document = orjson.loads(report.read_bytes())
    assert document["interrupted"] is True
    assert document["batches"][0]["status"] == "accepted"
    assert document["status"] == "interrupted"  # its SMS went out: not "failed"
