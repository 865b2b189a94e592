"""``a2p send`` as a pipeline stage, against a simulator on loopback in another thread."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from engine.config.credentials import Credentials
from engine.simulator import SimulatorThread
from tests.conftest import sim_settings

SECRET, JWT = "cli-secret-value-123", "cli-jwt-value-456"
CONSUMER = ("import sys, json; events = [json.loads(l) for l in sys.stdin]; "
            "print(sum(e['event'] == 'rejected' for e in events), events[-1]['event'])")


@pytest.mark.slow
def test_pipeline_stage_emits_only_json_lines(tmp_path: Path) -> None:
    """cat list | a2p send - | consumer: stdout is pure JSON lines, the report is written,
    secrets appear nowhere, and the exit code is 0."""
    creds = {"RC_APP_CLIENT_ID": "cli-client", "RC_APP_CLIENT_SECRET": SECRET,
             "RC_USER_JWT": JWT}
    settings = sim_settings(messages_per_second=1e6)
    settings = replace(settings, credentials=Credentials("cli-client", SECRET, JWT))
    numbers = b"".join(b"+1415555%04d\n" % i for i in range(200)) + b"bad\n+442071838750\n"
    report = tmp_path / "report.json"
    with SimulatorThread(settings) as running:
        env = {**os.environ, **creds, "RC_SERVER_URL": running.url}
        send = subprocess.run(
            [sys.executable, "-m", "engine.cli", "send", "-", "--from", "+16505550100",
             "--text", "Hi", "--report", str(report), "--max-batch-bytes", "2000"],
            input=numbers, capture_output=True, env=env, timeout=120, check=False)
        accepted = running.simulator.store.accepted_count()
    assert send.returncode == 0, send.stderr.decode()
    consumer = subprocess.run([sys.executable, "-c", CONSUMER], input=send.stdout,
                              capture_output=True, check=True, timeout=30)
    assert consumer.stdout.decode().split() == ["2", "summary"]
    document = orjson.loads(report.read_bytes())
    assert document["totals"]["sent"] == accepted == 200
    everything = send.stdout + send.stderr + report.read_bytes()
    assert SECRET.encode() not in everything
    assert JWT.encode() not in everything


def test_send_help_documents_exit_codes() -> None:
    """--help teaches the exit codes and a pipeline example."""
    result = subprocess.run([sys.executable, "-m", "engine.cli", "send", "--help"],
                            capture_output=True, text=True, check=True)
    assert "130 interrupted" in result.stdout
    assert "jq" in result.stdout


@pytest.mark.slow
def test_interrupt_stops_new_batches_and_still_writes_the_report(tmp_path: Path) -> None:
    """SIGINT mid-run: no new batches, requests in flight finish, report written, exit 130;
    then ``a2p send --resume JOURNAL`` alone finishes the job with every recipient accepted
    exactly once."""
    import signal

    from engine.simulator import FaultSettings

    settings = replace(sim_settings(messages_per_second=1e6),
                       faults=FaultSettings(latency=0.2, scope="send"))
    numbers = tmp_path / "numbers.txt"
    numbers.write_bytes(b"".join(b"+1415555%04d\n" % i for i in range(2000)))
    report = tmp_path / "report.json"
    with SimulatorThread(settings) as running:
        env = {**os.environ, "RC_SERVER_URL": running.url, "RC_APP_CLIENT_ID": "demo-client-id",
               "RC_APP_CLIENT_SECRET": "demo-client-secret", "RC_USER_JWT": "demo-user-jwt"}
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "send", str(numbers), "--from",
             "+16505550100", "--text", "Hi", "--report", str(report), "--max-batch-bytes",
             "600", "--concurrency", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert process.stdout is not None
        first = orjson.loads(process.stdout.readline())
        if first["event"] == "consent":  # the opt-outs read before the first POST
            first = orjson.loads(process.stdout.readline())
        assert first["event"] == "chunk_submitted"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        accepted = running.simulator.store.accepted_count()
        document = orjson.loads(report.read_bytes())
        resumed = subprocess.run(
            [sys.executable, "-m", "engine.cli", "send", "--resume", f"{report}.journal"],
            capture_output=True, env=env, timeout=120, check=False)
        ledger = [entry[2] for entry in running.simulator.store.ledger()]
    assert process.returncode == 130, err.decode()
    assert document["interrupted"] is True
    assert 0 < document["totals"]["sent"] == accepted < 2000
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert sorted(ledger) == [f"+1415555{i:04d}" for i in range(2000)]
    assert {e[3] for e in running.simulator.store.ledger()} == {"Hi"}  # text from the journal


def test_send_without_input_or_resume_is_a_usage_error() -> None:
    """a2p send with neither INPUT and --from nor --resume says what it needs (exit 2)."""
    result = subprocess.run([sys.executable, "-m", "engine.cli", "send", "list.csv"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "--resume JOURNAL" in result.stderr


@pytest.mark.slow
def test_a_run_with_its_own_profile_file_resumes_and_exports_from_anywhere(
        tmp_path: Path) -> None:
    """A run given a relative ``--profile my.toml`` and ``--max-batch-messages`` is stopped,
    then ``a2p send --resume JOURNAL`` and ``a2p outcomes JOURNAL``, run from another
    directory with nothing else, find the profile again, keep the message cap, and account
    for every recipient exactly once."""
    import signal

    from engine.simulator import FaultSettings

    settings = replace(sim_settings(messages_per_second=1e6),
                       faults=FaultSettings(latency=0.2, scope="send"))
    here, elsewhere = tmp_path / "campaign", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    (here / "my.toml").write_text(
        (Path(__file__).parents[2] / "configs" / "simulator.toml").read_text())
    (here / "list.txt").write_bytes(b"".join(b"+1415555%04d\n" % i for i in range(600)))
    with SimulatorThread(settings) as running:
        env = {**os.environ, "RC_SERVER_URL": running.url, "RC_APP_CLIENT_ID": "demo-client-id",
               "RC_APP_CLIENT_SECRET": "demo-client-secret", "RC_USER_JWT": "demo-user-jwt"}
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "send", "list.txt", "--from", "+16505550100",
             "--text", "Hi", "--report", "run.json", "--profile", "my.toml",
             "--max-batch-messages", "50", "--concurrency", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=here)
        assert process.stdout is not None
        assert orjson.loads(process.stdout.readline())["event"] == "consent"
        assert orjson.loads(process.stdout.readline())["event"] == "chunk_submitted"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        journal = str(here / "run.json.journal")
        resumed = subprocess.run(
            [sys.executable, "-m", "engine.cli", "send", "--resume", journal],
            capture_output=True, env=env, timeout=120, check=False, cwd=elsewhere)
        outcomes = subprocess.run(
            [sys.executable, "-m", "engine.cli", "outcomes", journal, "--out", "rows.csv"],
            capture_output=True, env=env, timeout=120, check=False, cwd=elsewhere)
        ledger = list(running.simulator.store.ledger())
    assert process.returncode == 130, err.decode()
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert outcomes.returncode == 0, outcomes.stderr.decode()
    assert sorted(entry[2] for entry in ledger) == [f"+1415555{i:04d}" for i in range(600)]
    per_batch: dict[str, int] = {}
    for batch_id, *_ in ledger:
        per_batch[batch_id] = per_batch.get(batch_id, 0) + 1
    assert max(per_batch.values()) == 50
    rows = (elsewhere / "rows.csv").read_text().splitlines()
    assert len(rows) == 601  # the header and one row per recipient
