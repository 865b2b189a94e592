"""``a2p send --suppress FILE`` against the simulator: a list of 20,000 with 5 % on a
suppression list texts none of them, through a stop and a resume (one whose list gained a
number), and the report, the events and ``a2p outcomes`` count them alike."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import OPTED_OUT
from engine.simulator import RunningSimulator, SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.conftest import Start, StopAfter, ledger_numbers

SENDER = "+16505550100"
COUNT, EVERY = 20_000, 20  # every 20th recipient is suppressed: 1,000 of them
PROFILE = """
[server]
url = "http://127.0.0.1:9"
[send]
concurrency = 2
[retry]
max_attempts = 10
backoff_initial = 0.01
backoff_max = 0.1
request_timeout = 30.0
[polling]
interval = 0.05
max_interval = 0.2
timeout = 60.0
[rate_limit]
light_requests = {light}
light_window = 60.0
auth_requests = 1000
auth_window = 60.0
default_retry_after = 0.2
"""


def number(i: int) -> str:
    return f"+1415{555 + i // 10_000}{i % 10_000:04d}"


def env(running: RunningSimulator) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    return {**base, "RC_SERVER_URL": running.url,
            "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
            "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
            "RC_USER_JWT": DEMO_CREDENTIALS.jwt}


def a2p(running: RunningSimulator, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          env=env(running), timeout=300, check=False)


def write_lists(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """The list, and the opt-outs as a CRM exports them: a CSV with a phone column, national."""
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{number(i)}\n" for i in range(COUNT)))
    opt_outs = tmp_path / "opt-outs.csv"
    suppressed = {number(i) for i in range(0, COUNT, EVERY)}
    opt_outs.write_text("name,phone\n" + "".join(
        f"person {i},({number(i)[2:5]}) {number(i)[5:8]}-{number(i)[8:]}\n"
        for i in range(0, COUNT, EVERY)))
    return listing, opt_outs, suppressed


def profiles(tmp_path: Path) -> tuple[Path, Path]:
    """(slow, fast): a Light budget of 3 POSTs a minute (a run to stop) and a generous one."""
    slow, fast = tmp_path / "slow.toml", tmp_path / "fast.toml"
    slow.write_text(PROFILE.format(light=3))
    fast.write_text(PROFILE.format(light=10_000))
    return slow, fast


def events_of(stdout: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.strip()]


def outcomes_rejected_local(running: RunningSimulator, journal: Path, tmp_path: Path,
                            profile: Path) -> list[dict[str, str]]:
    out = tmp_path / "local.csv"
    done = a2p(running, "outcomes", str(journal), "--only", "rejected-local", "--out", str(out),
               "--profile", str(profile))
    assert done.returncode == 0, done.stderr.decode()
    with out.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_counts(running: RunningSimulator, report: Path, summary: dict[str, Any],
                 suppressed: set[str], tmp_path: Path, profile: Path) -> None:
    """Nobody suppressed was texted, everyone else exactly once, and the report, the summary
    event and the outcomes count the suppressed alike."""
    ledger = [entry[2] for entry in running.simulator.store.ledger()]
    assert not set(ledger) & suppressed
    assert sorted(ledger) == sorted(set(map(number, range(COUNT))) - suppressed)
    document = orjson.loads(report.read_bytes())
    assert document["totals"]["suppressed"] == {"file": len(suppressed)}
    assert summary["suppressed"] == {"file": len(suppressed)}
    assert document["totals"]["rejectedLocal"] == len(suppressed)
    rows = outcomes_rejected_local(running, Path(f"{report}.journal"), tmp_path, profile)
    assert len(rows) == len(suppressed)
    assert {row["errorCode"] for row in rows} == {OPTED_OUT}
    assert {row["to"] for row in rows} == suppressed


@pytest.mark.slow
def test_a_send_with_a_suppression_list_texts_none_of_it(tmp_path: Path) -> None:
    """20,000 recipients, 1,000 of them on the suppression list: the ledger has 19,000
    messages and none to them; report, events and outcomes all count 1,000 suppressed."""
    listing, opt_outs, suppressed = write_lists(tmp_path)
    _, fast = profiles(tmp_path)
    report = tmp_path / "r.json"
    with SimulatorThread(sim_settings(messages_per_second=1e6)) as running:
        done = a2p(running, "send", str(listing), "--from", SENDER, "--text", "Hi",
                   "--suppress", str(opt_outs), "--report", str(report), "--no-preflight",
                   "--profile", str(fast), "--max-batch-bytes", "100000")
        assert done.returncode == 0, done.stderr.decode()
        events = events_of(done.stdout)
        opted = [e for e in events if e["event"] == "rejected" and e["errorCode"] == OPTED_OUT]
        assert len(opted) == len(suppressed)
        assert "is on the suppression list" in opted[0]["description"]
        assert "1,000 rejected locally (1,000 suppressed)" in done.stderr.decode()
        check_counts(running, report, events[-1], suppressed, tmp_path, fast)


def _events_until(stream: IO[bytes], kind: str, count: int) -> None:
    seen = 0
    while seen < count:
        line = stream.readline()
        assert line, f"the run ended before {count} {kind} events"
        seen += orjson.loads(line)["event"] == kind


@pytest.mark.slow
def test_stop_and_resume_with_a_changed_list_texts_none_of_either(tmp_path: Path) -> None:
    """A run stopped after 3 batches; during the stop one number is taken out of the
    suppression list and one not yet sent is added: the resume finishes texting none of
    what the run read (its copy beside the journal) nor the added one, and everyone else
    once, and says what the list gained."""
    listing, opt_outs, suppressed = write_lists(tmp_path)
    slow, fast = profiles(tmp_path)
    report, journal = tmp_path / "r.json", tmp_path / "r.json.journal"
    with SimulatorThread(sim_settings(messages_per_second=1e6)) as running:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "send", str(listing), "--from", SENDER, "--text",
             "Hi", "--suppress", str(opt_outs), "--report", str(report), "--no-preflight",
             "--profile", str(slow), "--max-batch-bytes", "50000", "--wait", "accepted"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(running))
        assert process.stdout is not None
        _events_until(process.stdout, "chunk_submitted", 3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err.decode()
        sent_before = len(list(running.simulator.store.ledger()))
        assert sent_before < COUNT - len(suppressed)

        # the advice for opt-outs that arrive mid-run: what the run has not sent, as a list
        rest = tmp_path / "rest.csv"
        done = a2p(running, "outcomes", str(journal), "--only", "not-sent", "--out", str(rest),
                   "--profile", str(fast))
        assert done.returncode == 0, done.stderr.decode()
        with rest.open(newline="") as handle:
            unsent = {row["to"] for row in csv.DictReader(handle)}
        sent = {entry[2] for entry in running.simulator.store.ledger()}
        assert not unsent & suppressed
        assert unsent | sent | suppressed == set(map(number, range(COUNT)))

        original = opt_outs.read_bytes()
        added = max(unsent)
        # one opt-out taken out (it stays suppressed for this run), one added
        opt_outs.write_bytes(original.replace(b"person 20,(415) 555-0020\n", b"") +
                             f"new,{added}\n".encode())
        # as the resume hint gives it: the run's command again, --suppress and all
        resumed = a2p(running, "send", str(listing), "--from", SENDER, "--text", "Hi",
                      "--suppress", str(opt_outs), "--resume", str(journal), "--profile",
                      str(fast))
        assert resumed.returncode == 0, resumed.stderr.decode()
        assert f"--suppress {opt_outs} gained 1 number since the run began" in \
            resumed.stderr.decode()
        check_counts(running, report, events_of(resumed.stdout)[-1], suppressed | {added},
                     tmp_path, fast)


async def test_the_library_takes_paths_and_iterables(tmp_path: Path, start: Start) -> None:
    """engine.send(suppress=[path, [numbers]]) texts none of either, and its report counts
    them."""
    listing = tmp_path / "l.txt"
    listing.write_text("".join(f"{number(i)}\n" for i in range(50)))
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(f"{number(1)}\n{number(2)}\n")
    running, settings = await start()
    done = await engine.send(listing, sender=SENDER, text="Hi", config=settings,
                             credentials=DEMO_CREDENTIALS, preflight=False,
                             suppress=[dnc, [number(40)]])
    assert done["totals"]["suppressed"] == {"file": 3}
    sent = ledger_numbers(running)
    assert len(sent) == 47
    assert not {number(1), number(2), number(40)} & set(sent)


async def test_a_run_given_numbers_in_memory_resumes_from_its_copy(tmp_path: Path,
                                                                  start: Start) -> None:
    """engine.send(suppress=[[numbers]], journal=J) stopped after its first batch resumes
    with engine.send(resume=J): the copy beside the journal gives the numbers again, and
    none of them is texted."""

    items = [number(i) for i in range(300)]
    listing = tmp_path / "l.txt"
    listing.write_text("".join(f"{n}\n" for n in items))
    journal = tmp_path / "run.journal"
    running, settings = await start()
    after = StopAfter()
    stop, stop_after_first = after.stop, after.on_event

    common: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                              "preflight": False, "consent": False}
    first = await engine.send(listing, sender=SENDER, text="Hi", journal=journal, stop=stop,
                              on_event=stop_after_first, max_batch_messages=50,
                              concurrency=1, suppress=[[items[-1], items[1]]], **common)
    assert first["status"] == "interrupted"
    done = await engine.send(resume=journal, **common)
    assert done["totals"]["suppressed"] == {"file": 2}
    assert sorted(ledger_numbers(running)) == sorted(set(items) - {items[1], items[-1]})
