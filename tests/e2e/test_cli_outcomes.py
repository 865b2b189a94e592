"""The follow-up loop from the CLI: ``a2p send --wait delivered`` against delayed receipts, then
``a2p outcomes``, then ``a2p send`` of the ``--only retryable`` rows."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import RunningSimulator, SimulatorThread
from engine.simulator.settings import ReceiptSettings
from tests.conftest import sim_settings
from tests.e2e.test_outcomes import make_list

PROFILE = """
[server]
url = "http://127.0.0.1:9"
account = "~"
[send]
concurrency = 3
[retry]
max_attempts = 10
backoff_initial = 0.01
backoff_max = 0.1
request_timeout = 30.0
[polling]
interval = 0.1
max_interval = 0.3
timeout = 60.0
[rate_limit]
light_requests = 10000
light_window = 60.0
auth_requests = 1000
auth_window = 60.0
default_retry_after = 0.2
"""
# Mostly retryable failures, so the follow-up campaign has recipients to send to.
CODES = (("SMS-RC-503", 0.5), ("SMS-CAR-413", 0.3), ("SMS-CAR-104", 0.2))


def a2p(running: RunningSimulator, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "RC_SERVER_URL": running.url,
           "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
           "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
           "RC_USER_JWT": DEMO_CREDENTIALS.jwt}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          env=env, timeout=120, check=False)


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def receipts_simulator() -> Any:
    receipts = ReceiptSettings(seed=3, delay_median=0.3, delay_sigma=0.5, no_receipt_rate=0.05,
                               codes=CODES)
    settings = sim_settings(failure_rate=0.2, receipts=receipts, messages_per_second=1e5)
    with SimulatorThread(settings) as running:
        yield running


@pytest.mark.slow
def test_send_delivered_then_outcomes_then_resend_retryable(
        tmp_path: Path, receipts_simulator: RunningSimulator) -> None:
    """Every input row is accounted for once, the outcomes' totals equal the report's, and the
    --only retryable file is a list 'a2p send' takes for the follow-up campaign, each
    recipient getting the very text the first campaign sent it."""
    running = receipts_simulator
    profile = tmp_path / "fast.toml"
    profile.write_text(PROFILE)
    numbers = make_list(["ok", "ok", "again", "local", "server", "ok", "ok", "ok"] * 150)
    source = tmp_path / "list.csv"
    own = {i: f"Hello {i} your code is {i * 7}" for i in range(0, len(numbers), 2)}
    source.write_text("to,text\n" + "".join(f"{n},{own.get(i, '')}\n"
                                            for i, n in enumerate(numbers)))
    report_path = tmp_path / "run.json"
    sent = a2p(running, "send", str(source), "--from", "+16505550100", "--text", "Hi",
               "--any-country", "--profile", str(profile), "--report", str(report_path),
               "--wait", "delivered",
               "--delivery-timeout", "4", "--max-batch-bytes", "6000")
    assert sent.returncode == 0, sent.stderr.decode()
    report = orjson.loads(report_path.read_bytes())
    statuses = report["totals"]["statuses"]
    assert statuses["queued"] == 0
    assert statuses["countsReadAt"] is not None
    assert all(b["queued"] == 0 and b["countsReadAt"] for b in report["batches"])
    # Only silent messages (no receipt, ever) may still be Sent once every receipt is in.
    assert statuses["sent"] == sum(len(b.silent) for b in running.simulator.store.batches)

    out = tmp_path / "outcomes.csv"
    done = a2p(running, "outcomes", str(report_path) + ".journal", "--out", str(out),
               "--profile", str(profile))
    assert done.returncode == 0, done.stderr.decode()
    assert b"Light requests" in done.stderr  # the estimate, printed before it starts
    rows = read_csv(out)
    assert [int(r["index"]) for r in rows] == list(range(len(numbers)))
    assert [r["to"] for r in rows] == numbers
    count = Counter(r["outcome"] for r in rows)
    totals = report["totals"]
    assert count["rejected-local"] == totals["rejectedLocal"] > 0
    assert count["rejected-server"] == totals["rejectedServer"] > 0
    assert count["delivered"] == totals["delivered"] == statuses["delivered"]
    # the opt-out failures (SMS-CAR-413 among the simulator's codes) are rows of their own
    assert count["delivery-failed"] + count["sending-failed"] + count["opted-out"] == \
        totals["deliveryFailed"] + totals["sendingFailed"]
    assert count["sent-no-receipt"] == statuses["sent"]
    assert sum(count.values()) == totals["records"] == len(numbers)
    codes = Counter(r["errorCode"] for r in rows
                    if r["outcome"].endswith("-failed") or r["outcome"] == "opted-out")
    assert {r["errorCode"] for r in rows if r["outcome"] == "opted-out"} <= \
        {"SMS-CAR-413", "SMS-RC-413"}
    assert dict(codes) == statuses["errorCodeCounts"]

    retry = tmp_path / "retry.csv"
    only = a2p(running, "outcomes", str(report_path) + ".journal", "--only", "retryable",
               "--out", str(retry), "--profile", str(profile))
    assert only.returncode == 0, only.stderr.decode()
    retryable = read_csv(retry)
    assert retryable
    assert all(r["errorCode"] == "SMS-RC-503" and r["retryable"] == "true" for r in retryable)
    assert [r["index"] for r in retryable] == [r["index"] for r in rows
                                               if r["retryable"] == "true"]
    assert {r["text"] for r in retryable if int(r["index"]) in own} <= set(own.values())
    before_ledger = len(list(running.simulator.store.ledger()))
    before = running.simulator.store.accepted_count()
    again = a2p(running, "send", str(retry), "--from", "+16505550100", "--text", "Hi",
                "--any-country", "--profile", str(profile),
                "--report", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stderr.decode()
    follow_up = orjson.loads((tmp_path / "again.json").read_bytes())
    assert follow_up["totals"]["sent"] == len(retryable)
    assert follow_up["totals"]["rejectedLocal"] == 0
    assert running.simulator.store.accepted_count() == before + len(retryable)
    sent_again = Counter((to, text) for _, _, to, text in
                         list(running.simulator.store.ledger())[before_ledger:])
    assert sent_again == Counter((r["to"], own.get(int(r["index"]), "Hi")) for r in retryable)


@pytest.mark.slow
def test_outcomes_jsonl_to_stdout_with_only_failed(
        tmp_path: Path, receipts_simulator: RunningSimulator) -> None:
    """--out - --format jsonl streams JSON lines of just the failed rows to stdout."""
    running = receipts_simulator
    profile = tmp_path / "fast.toml"
    profile.write_text(PROFILE)
    numbers = make_list(["ok", "local", "ok", "server"] * 50)
    source = tmp_path / "list.csv"
    source.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    report_path = tmp_path / "run.json"
    sent = a2p(running, "send", str(source), "--from", "+16505550100", "--text", "Hi",
               "--any-country", "--profile", str(profile), "--report", str(report_path))
    assert sent.returncode == 0, sent.stderr.decode()
    done = a2p(running, "outcomes", str(report_path) + ".journal", "--out", "-", "--format",
               "jsonl", "--only", "failed", "--profile", str(profile))
    assert done.returncode == 0, done.stderr.decode()
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert {r["outcome"] for r in rows} <= {"rejected-local", "rejected-server",
                                            "delivery-failed", "sending-failed",
                                            "opted-out"}
    assert sum(r["outcome"].startswith("rejected") for r in rows) == 100
    assert [r["index"] for r in rows] == sorted(r["index"] for r in rows)
