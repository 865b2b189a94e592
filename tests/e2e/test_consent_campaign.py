"""The issue's end-to-end campaign (issue 21): 200,000 recipients, 5 % of them opted out:
to another sender of the account, to --from, only on a local --suppress file, and by STOP
while the run goes on; the run is stopped and resumed, and the simulator's ledger holds no
message to any of them, everyone else exactly once, with the report, the summary event and
'a2p outcomes' counting them alike, by source."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from engine.core.rejections import OPTED_OUT
from engine.simulator import SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.test_cli_suppress import (
    _events_until,
    a2p,
    env,
    events_of,
    number,
    outcomes_rejected_local,
    profiles,
)

SENDER, OTHER = "+16505550100", "+16505550101"
COUNT = 200_000


def inbound_stop(url: str, recipient: str, own: str) -> None:
    request = urllib.request.Request(f"{url}/_sim/inbound", method="POST", data=orjson.dumps(
        {"from": recipient, "to": own, "text": "STOP"}))
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert orjson.loads(answer.read())["record"]["optStatus"] == "OptOut"


@pytest.mark.slow
def test_campaign_with_opt_outs_stop_and_resume(tmp_path: Path) -> None:
    """0 messages to any suppressed recipient across a stop and a resume; 10,000 suppressed,
    counted {"file": 2,020, "consent": 7,980} in the report, the summary and outcomes."""
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{number(i)}\n" for i in range(COUNT)))
    elsewhere = {number(i) for i in range(COUNT) if i % 100 in (1, 2)}  # to OTHER: 4,000
    mine = {number(i) for i in range(COUNT) if i % 100 == 3}  # to --from: 2,000
    filed = {number(i) for i in range(COUNT) if i % 100 == 4 or (i % 100 == 1 and i < 2000)}
    stopped = {number(i) for i in range(100_000, COUNT) if i % 100 in (5, 6)}  # 2,000 later
    suppressed = elsewhere | mine | filed | stopped
    assert len(suppressed) == COUNT // 20
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("".join(f"{n}\n" for n in sorted(filed)))
    slow, fast = profiles(tmp_path)
    report, journal = tmp_path / "r.json", tmp_path / "r.json.journal"
    with SimulatorThread(sim_settings(messages_per_second=1e6)) as running:
        store = running.simulator.store.consents
        for n in sorted(elsewhere):
            store.set(OTHER, n, "OptOut", "Recipient", time.time())
        for n in sorted(mine):
            store.set(SENDER, n, "OptOut", "Api", time.time())
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "send", str(listing), "--from", SENDER, "--text",
             "Hi", "--suppress", str(dnc), "--report", str(report), "--no-preflight",
             "--profile", str(slow), "--max-batch-bytes", "50000", "--wait", "accepted"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(running))
        assert process.stdout is not None
        _events_until(process.stdout, "chunk_submitted", 2)
        for k, n in enumerate(sorted(stopped)):  # STOP while the run goes on
            inbound_stop(running.url, n, SENDER if k % 2 else OTHER)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err.decode()
        sent_before = {entry[2] for entry in running.simulator.store.ledger()}
        assert 0 < len(sent_before) < COUNT // 10
        assert not sent_before & suppressed

        # the resume reads the opt-outs again before its first POST, whatever the max age
        resumed = a2p(running, "send", "--resume", str(journal), "--profile", str(fast))
        assert resumed.returncode == 0, resumed.stderr.decode()
        ledger = [entry[2] for entry in running.simulator.store.ledger()]
        assert not set(ledger) & suppressed
        assert sorted(ledger) == sorted({number(i) for i in range(COUNT)} - suppressed)
        by_source = {"file": len(filed), "consent": len(suppressed - filed)}
        assert by_source == {"file": 2020, "consent": 7980}
        document = orjson.loads(report.read_bytes())
        assert document["totals"]["suppressed"] == by_source
        assert document["totals"]["rejectedLocal"] == len(suppressed)
        summary = events_of(resumed.stdout)[-1]
        assert summary["suppressed"] == by_source
        rows = outcomes_rejected_local(running, journal, tmp_path, fast)
        assert {row["errorCode"] for row in rows} == {OPTED_OUT}
        assert sorted(row["to"] for row in rows) == sorted(suppressed)
        consent_rows = [row for row in rows if "RingCentral consent record" in
                        row.get("description", "")]
        assert len(consent_rows) == by_source["consent"]
