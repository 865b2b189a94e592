"""What an ops team reads of a run: events that say when and which run, a metrics file in
Prometheus's text format (read with prometheus_client's own parser, during and after a run),
and ``--log-format json`` logs that name each request and never a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.run import metrics as metrics_module
from engine.simulator import FaultSettings, SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, Start

GOOD, BAD = 300, 7


def _listing(tmp_path: Path) -> Path:
    path = tmp_path / "list.txt"
    rows = [f"+1415555{i:04d}" for i in range(GOOD)] + ["not-a-number"] * BAD
    path.write_text("\n".join(rows) + "\n")
    return path


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the file, by name and labels (run_id left out), via the real parser."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "run_id"))
            found[(sample.name, labels)] = sample.value
    return found


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_the_metrics_file_is_read_by_prometheus_during_and_after_a_run(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the run goes on, the metrics file always parses, says the run is not finished,
    and its counters only grow; at the end it holds the report's figures: records read,
    sent, rejected by source, batches by state, budgets and waits. Every event carries the
    report's runId and a UTC time within the run."""
    monkeypatch.setattr(metrics_module, "EVERY", 0.02)
    running, settings = await start(faults=FaultSettings(latency=0.05, scope="send"))
    target = tmp_path / "run.prom"
    seen: list[dict[str, Any]] = []
    during: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = []

    async def on_event(event: dict[str, Any]) -> None:
        seen.append(event)
        if event["event"] in ("chunk_submitted", "batch_completed") and target.exists():
            during.append(_samples(target))

    began = time.time()
    report = await engine.send(_listing(tmp_path), sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1500,
                               metrics=target, on_event=on_event,
                               report=tmp_path / "report.json")
    ended = time.time()
    assert during, "the file exists from the start of the sending"
    sent_so_far = [_value(s, "a2p_sent_total") for s in during]
    assert sent_so_far == sorted(sent_so_far)
    assert all(_value(s, "a2p_finished") == 0 for s in during)
    final = _samples(target)
    totals = report["totals"]
    assert totals["sent"] == GOOD
    assert totals["rejectedLocal"] == BAD
    assert _value(final, "a2p_finished") == 1
    assert _value(final, "a2p_records_read_total") == GOOD + BAD
    assert _value(final, "a2p_sent_total") == GOOD >= sent_so_far[-1]
    assert _value(final, "a2p_rejected_total", source="local") == BAD
    assert _value(final, "a2p_rejected_total", source="server") == 0
    batches = len(report["batches"])
    assert batches > 1
    assert _value(final, "a2p_batches", state="completed") == batches
    assert _value(final, "a2p_batches", state="failed") == 0
    assert 0 <= _value(final, "a2p_rate_budget_left", group="light") <= 10_000
    assert _value(final, "a2p_waited_seconds_total", group="light") >= 0
    left = [name for name in os.listdir(tmp_path) if name.startswith(".run.prom.")]
    assert not left, "no temporary file is left behind"
    assert {event["runId"] for event in seen} == {report["runId"]}
    for event in seen:
        assert event["time"].endswith("Z")
        moment = datetime.fromisoformat(event["time"]).timestamp()
        assert began - 0.001 <= moment <= ended + 0.001
    del running


def test_json_logs_name_each_request_and_never_a_secret(tmp_path: Path) -> None:
    """``a2p -v --log-format json send``: every log line on stderr is one JSON object with
    time, level, logger and message; each API request's line has its method, path, status,
    RCRequestId and duration; neither the client secret, the JWT nor any bearer token the
    server issued appears anywhere on stderr. ``--metrics`` writes the file there too."""
    settings = replace(sim_settings(messages_per_second=1e6), credentials=DEMO_CREDENTIALS)
    target = tmp_path / "cli.prom"
    with SimulatorThread(settings) as running:
        env = {**os.environ, "RC_SERVER_URL": running.url,
               "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
               "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
               "RC_USER_JWT": DEMO_CREDENTIALS.jwt}
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "-v", "--log-format", "json", "send",
             str(_listing(tmp_path)), "--from", SENDER, "--text", "Hi", "--report",
             str(tmp_path / "report.json"), "--max-batch-bytes", "1500", "--no-revoke",
             "--metrics", str(target)],
            capture_output=True, env=env, timeout=120, check=False)
        tokens = list(running.simulator.store._access)  # --no-revoke: still open
        tokens += list(running.simulator.store._refresh)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert tokens, "the run logged in"
    for secret in (DEMO_CREDENTIALS.client_secret, DEMO_CREDENTIALS.jwt, *tokens):
        assert secret not in stderr
    logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert logs
    assert all({"time", "level", "logger", "message"} <= set(line) for line in logs)
    posts = [line for line in logs if line.get("method") == "POST"
             and line.get("path", "").endswith("/batches")]
    assert posts
    for line in posts:
        assert 200 <= line["status"] < 300
        assert line["RCRequestId"]
        assert line["duration"] >= 0
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    final = _samples(target)
    assert _value(final, "a2p_sent_total") == report["totals"]["sent"] == GOOD
    assert _value(final, "a2p_finished") == 1


async def test_a_resumes_progress_line_counts_the_whole_run_like_its_final_line(
        start: Start, tmp_path: Path) -> None:
    """A run stopped after its first batch, then resumed: the resume's events begin with
    ``resumed`` (what the first run did) and keep the run's id, and its progress line ends
    with the same records read, sent and rejected as the report's totals."""
    import io

    from engine.cli.progress import Progress
    from tests.e2e.conftest import StopAfter

    _, settings = await start()
    listing = _listing(tmp_path)
    common: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                              "max_batch_bytes": 1500, "report": tmp_path / "report.json"}
    stopper = StopAfter()
    first = await engine.send(listing, sender=SENDER, text="Hi", stop=stopper.stop,
                              on_event=stopper.on_event, journal=tmp_path / "run.journal",
                              **common)
    assert first["interrupted"]
    assert 0 < first["totals"]["sent"] < GOOD
    stream = io.StringIO()
    progress = Progress(stream)
    seen: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        seen.append(event)
        progress.see(event)

    report = await engine.send(None, resume=tmp_path / "run.journal", on_event=on_event,
                               on_read=progress.reading, metrics=tmp_path / "run.prom",
                               **common)
    assert seen[0]["event"] == "resumed"
    assert seen[0]["sent"] == first["totals"]["sent"]
    assert {event["runId"] for event in seen} == {first["runId"]} == {report["runId"]}
    totals = report["totals"]
    assert totals["sent"] == GOOD
    last = stream.getvalue().splitlines()[-1]
    rejected = totals["rejectedLocal"] + totals["rejectedServer"]
    assert last.startswith(f"read {GOOD + BAD:,} | sent {GOOD:,} | rejected {rejected:,} | ")
    assert f"batches {len(report['batches']):,} accepted, {len(report['batches']):,} completed" \
        in last
    final = _samples(tmp_path / "run.prom")  # the metrics count the whole run too
    assert _value(final, "a2p_records_read_total") == GOOD + BAD
    assert _value(final, "a2p_sent_total") == GOOD



async def test_a_metrics_file_that_cannot_be_written_never_stops_the_send(
        start: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """--metrics into a folder that does not exist: everyone is still sent, and the log
    says once that the file could not be written."""
    _, settings = await start()
    report = await engine.send(_listing(tmp_path), sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1500,
                               metrics=tmp_path / "no-such-folder" / "run.prom")
    assert report["totals"]["sent"] == GOOD
    said = [r for r in caplog.records if "cannot write the metrics file" in r.getMessage()]
    assert len(said) == 1


def test_a_failure_under_json_logs_is_one_json_line_with_its_traceback(
        tmp_path: Path) -> None:
    """``a2p -vv --log-format json send`` with a wrong client secret: exit 3; every stderr
    line is a JSON object except the people's ``a2p: ...`` lines, the failure's traceback is
    a field of one of them, and the wrong secret is nowhere."""
    settings = replace(sim_settings(messages_per_second=1e6), credentials=DEMO_CREDENTIALS)
    wrong = "WRONG-SECRET-5e1d"
    with SimulatorThread(settings) as running:
        env = {**os.environ, "RC_SERVER_URL": running.url,
               "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
               "RC_APP_CLIENT_SECRET": wrong, "RC_USER_JWT": DEMO_CREDENTIALS.jwt}
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "-vv", "--log-format", "json", "send",
             str(_listing(tmp_path)), "--from", SENDER, "--text", "Hi", "--no-revoke"],
            capture_output=True, env=env, timeout=120, check=False)
    stderr = result.stderr.decode()
    assert result.returncode == 3, stderr
    lines = stderr.splitlines()
    assert [line for line in lines if not line.startswith(("{", "a2p: "))] == []
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    failures = [line for line in logs if "traceback" in line]
    assert len(failures) == 1
    assert failures[0]["level"] == "error"
    assert "engine.errors.AuthError: login refused" in failures[0]["traceback"]
    assert any(line.startswith("a2p: ") for line in lines)  # what the people read, as text
    assert wrong not in stderr
    assert DEMO_CREDENTIALS.jwt not in stderr
