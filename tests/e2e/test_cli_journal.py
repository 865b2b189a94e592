"""The journal through the CLI: one process per journal (a second exits 2 naming the holder;
a SIGKILLed holder never blocks), a run stopped before the login says interrupted, a stdin
run resumes with ``cat list | a2p send - --resume J``, and a resumed run's report goes where
the run's report went."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import orjson
import pytest

from engine.run.journallock import holder_of, lock_path
from engine.simulator import FaultSettings, RunningSimulator, SimulatorThread
from tests.conftest import sim_settings
from tests.waiting import until_sync

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX")

SENDER = "+16505550100"
DEMO = {"RC_APP_CLIENT_ID": "demo-client-id", "RC_APP_CLIENT_SECRET": "demo-client-secret",
        "RC_USER_JWT": "demo-user-jwt"}


def _env(url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    return {**base, **DEMO, "RC_SERVER_URL": url}


def _numbers(count: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(count)]


def _a2p(url: str, *words: str, stdin: int | IO[bytes] | None = None,
         cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "engine", *words], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(url),
                            cwd=cwd)


def _until(stream: IO[bytes], kind: str) -> None:
    """Read events until the first ``kind``."""
    while True:
        line = stream.readline()
        assert line, f"the run ended before a {kind} event"
        if orjson.loads(line)["event"] == kind:
            return


def _interrupted_run(running: RunningSimulator, tmp: Path, *extra: str,
                     stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``a2p send`` stopped with Ctrl-C once its first batch went out: exit 130, a journal
    with batches left to send."""
    source = [] if stdin is not None else [str(tmp / "list.txt")]
    process = _a2p(running.url, "send", *(source or ["-"]), "--from", SENDER, "--text", "Hi",
                   "--max-batch-bytes", "1500", "--no-preflight", *extra,
                   stdin=stdin)
    assert process.stdout is not None
    _until(process.stdout, "chunk_submitted")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    return subprocess.CompletedProcess(process.args, 130, out, err)


@pytest.fixture
def slow_simulator() -> Iterator[RunningSimulator]:
    """Batch POSTs take 0.2 s, so a run is still sending when it is stopped."""
    settings = replace(sim_settings(messages_per_second=1e6),
                       faults=FaultSettings(latency=0.2, scope="send"))
    with SimulatorThread(settings) as running:
        yield running


def _texted(running: RunningSimulator) -> Counter[str]:
    return Counter(entry[2] for entry in running.simulator.store.ledger())


def _wait_for_holder(journal: Path, pids: set[int], limit: float = 60.0) -> int:
    """The pid among ``pids`` that holds the journal's lock, once one does (bounded)."""
    def holder() -> int | None:
        found = holder_of(journal)
        return int(found["pid"]) if found is not None and found.get("pid") in pids else None

    return until_sync(holder, f"a process of {pids} to take the lock on {journal}", limit)


@pytest.mark.slow
def test_two_resumes_started_together_one_sends_the_other_exits_2(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """Two 'a2p send --resume J' at once (a double-click, an overlapping cron job): the one
    that takes the journal sends (it is paused while it holds it, so the other surely meets
    it), the other exits 2 at once naming the journal and the holder's pid and host; every
    recipient is texted once and the journal holds one entry per chunk."""
    running = slow_simulator
    numbers = _numbers(600)
    (tmp_path / "list.txt").write_text("".join(f"{n}\n" for n in numbers))
    report = tmp_path / "r.json"
    _interrupted_run(running, tmp_path, "--report", str(report))
    journal = Path(f"{report}.journal")
    first = _a2p(running.url, "send", "--resume", str(journal))
    second = _a2p(running.url, "send", "--resume", str(journal))
    processes = {first.pid: first, second.pid: second}
    holder = processes[_wait_for_holder(journal, set(processes))]
    other = next(p for p in processes.values() if p is not holder)
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        _, refused = other.communicate(timeout=120)
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    _, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err.decode()
    message = refused.decode()
    assert other.returncode == 2, message
    assert str(journal) in message
    assert f"pid {holder.pid}" in message
    assert socket.gethostname() in message
    assert "Traceback" not in message
    assert _texted(running) == Counter(numbers)  # each once
    entries = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    chunks = Counter(e["chunk"] for e in entries if e["type"] == "chunk")
    assert chunks
    assert set(chunks.values()) == {1}
    assert not lock_path(journal).exists()


@pytest.mark.slow
def test_a_sigkilled_run_does_not_block_its_resume(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """A run killed with SIGKILL while it holds the journal leaves its lock file (and its
    body folder) behind; the resume takes the journal all the same and finishes: every
    recipient texted once, and no body left on disk."""
    running = slow_simulator
    numbers = _numbers(400)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in numbers))
    report = tmp_path / "r.json"
    process = _a2p(running.url, "send", str(listing), "--from", SENDER, "--text", "Hi",
                   "--max-batch-bytes", "1500", "--no-preflight", "--report", str(report))
    assert process.stdout is not None
    _until(process.stdout, "chunk_submitted")
    process.kill()
    process.communicate(timeout=60)
    journal = Path(f"{report}.journal")
    assert lock_path(journal).exists()
    bodies = Path(f"{journal}.bodies")  # the killed run's spooled bodies, left behind
    assert bodies.is_dir()
    resumed = _a2p(running.url, "send", "--resume", str(journal))
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert _texted(running) == Counter(numbers)
    assert not bodies.exists()  # the resume took the folder, and removed it at its end


@pytest.mark.slow
def test_outcomes_during_a_send_exits_2(tmp_path: Path,
                                        slow_simulator: RunningSimulator) -> None:
    """'a2p outcomes' on the journal of a run still sending is refused (exit 2), naming it."""
    running = slow_simulator
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in _numbers(400)))
    report = tmp_path / "r.json"
    process = _a2p(running.url, "send", str(listing), "--from", SENDER, "--text", "Hi",
                   "--max-batch-bytes", "1500", "--no-preflight", "--report", str(report))
    try:
        assert process.stdout is not None
        _until(process.stdout, "chunk_submitted")
        os.kill(process.pid, signal.SIGSTOP)
        try:
            outcomes = _a2p(running.url, "outcomes", f"{report}.journal", "--out",
                            str(tmp_path / "o.csv"))
            _, err = outcomes.communicate(timeout=60)
        finally:
            os.kill(process.pid, signal.SIGCONT)
    finally:
        process.communicate(timeout=120)
    assert outcomes.returncode == 2, err.decode()
    assert f"pid {process.pid}" in err.decode()
    assert process.returncode == 0


def test_a_run_stopped_before_the_login_reports_interrupted(tmp_path: Path) -> None:
    """Ctrl-C while the token request waits for an answer: nothing was sent, and the report
    says status interrupted (not completed), exit 130."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(60)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{n}\n" for n in _numbers(10)))
        report = tmp_path / "r.json"
        process = _a2p(url, "send", str(listing), "--from", SENDER, "--text", "Hi",
                       "--no-preflight", "--report", str(report))
        connection, _ = server.accept()  # the login is on the wire, unanswered
        with connection:
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    document = orjson.loads(report.read_bytes())
    assert document["interrupted"] is True
    assert document["status"] == "interrupted"
    assert document["totals"]["sent"] == 0


@pytest.mark.slow
def test_a_stdin_run_resumes_with_the_list_piped_in_again(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """'--resume J' alone on a stdin run is refused (exit 2) with the command that works;
    'cat list | a2p send - --resume J' then finishes it: every recipient texted once."""
    running = slow_simulator
    numbers = _numbers(500)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in numbers))
    report = tmp_path / "r.json"
    with listing.open("rb") as stdin:
        _interrupted_run(running, tmp_path, "--report", str(report), stdin=stdin)
    journal = f"{report}.journal"
    alone = _a2p(running.url, "send", "--resume", journal)
    _, refused = alone.communicate(timeout=60)
    assert alone.returncode == 2, refused.decode()
    assert f"cat LIST | a2p send - --resume {journal}" in refused.decode()
    assert "resume=" not in refused.decode()  # not the library's wording
    with listing.open("rb") as stdin:
        resumed = _a2p(running.url, "send", "-", "--resume", journal, stdin=stdin)
        _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert _texted(running) == Counter(numbers)
    assert orjson.loads(report.read_bytes())["status"] == "completed"


@pytest.mark.slow
def test_a_resumed_run_writes_its_report_where_the_run_wrote_it(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """The journal in one directory, the report in another, the resume run from a third:
    the resumed run's report replaces the run's report, and nothing is written at the
    journal's stem."""
    running = slow_simulator
    (tmp_path / "list.txt").write_text("".join(f"{n}\n" for n in _numbers(400)))
    for name in ("reports", "journals", "elsewhere"):
        (tmp_path / name).mkdir()
    report, journal = tmp_path / "reports" / "campaign.json", tmp_path / "journals" / "jr"
    _interrupted_run(running, tmp_path, "--report", str(report), "--journal", str(journal))
    assert orjson.loads(report.read_bytes())["status"] == "interrupted"
    resumed = _a2p(running.url, "send", "--resume", str(journal), cwd=tmp_path / "elsewhere")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert orjson.loads(report.read_bytes())["status"] == "completed"
    assert f"report: {report}" in err.decode()
    # the journal and the consent records its run read (bound to that run, never reused)
    assert sorted(p.name for p in (tmp_path / "journals").iterdir()) == ["jr", "jr.consents"]
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_resume_with_rc_server_url_of_another_server_exits_2_and_sends_nothing_there(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """The resume is run from a shell whose RC_SERVER_URL points at another server (another
    simulator): exit 2 naming both servers and the fix; the other server texts no one
    and the run's server no new message. With the right URL the resume then finishes it:
    every recipient texted once, on the run's server."""
    running = slow_simulator
    numbers = _numbers(400)
    (tmp_path / "list.txt").write_text("".join(f"{n}\n" for n in numbers))
    report = tmp_path / "r.json"
    _interrupted_run(running, tmp_path, "--report", str(report))
    journal = Path(f"{report}.journal")
    before = len(list(running.simulator.store.ledger()))
    with SimulatorThread(sim_settings(messages_per_second=1e6)) as other:
        wrong = _a2p(other.url, "send", "--resume", str(journal))
        _, err = wrong.communicate(timeout=120)
        assert list(other.simulator.store.ledger()) == []
    message = err.decode()
    assert wrong.returncode == 2, message
    assert running.url in message
    assert other.url in message
    assert f"RC_SERVER_URL={running.url}" in message
    assert len(list(running.simulator.store.ledger())) == before
    right = _a2p(running.url, "send", "--resume", str(journal))
    _, err = right.communicate(timeout=120)
    assert right.returncode == 0, err.decode()
    assert _texted(running) == Counter(numbers)


def test_a_resume_through_a_symlink_or_after_the_side_file_is_deleted_is_refused(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """While a run is sending, 'a2p send --resume latest.journal' (a symlink to its journal)
    and, after the operator deletes the "stale" JOURNAL.lock, 'a2p send --resume JOURNAL'
    both exit 2; the run finishes alone: every recipient texted once."""
    running = slow_simulator
    numbers = _numbers(600)
    (tmp_path / "list.txt").write_text("".join(f"{n}\n" for n in numbers))
    report = tmp_path / "r.json"
    _interrupted_run(running, tmp_path, "--report", str(report))
    journal = Path(f"{report}.journal")
    (tmp_path / "latest.journal").symlink_to(journal.name)
    first = _a2p(running.url, "send", "--resume", str(journal))
    try:
        _wait_for_holder(journal, {first.pid})
        os.kill(first.pid, signal.SIGSTOP)  # surely still holding it while the others try
        try:
            lock_path(journal).unlink()
            refused = [_a2p(running.url, "send", "--resume", path, cwd=tmp_path)
                       for path in ("latest.journal", journal.name)]
            results = [p.communicate(timeout=120) for p in refused]
        finally:
            os.kill(first.pid, signal.SIGCONT)
        for process, (_, err) in zip(refused, results, strict=True):
            assert process.returncode == 2, err.decode()
            assert "in use" in err.decode()
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err.decode()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
def test_a_stdin_resume_given_a_re_sorted_list_stops_before_sending_anything(
        tmp_path: Path, slow_simulator: RunningSimulator) -> None:
    """'a2p send - --resume J' fed the same numbers in another order exits with an error
    naming the journal, where the input differs and the fix, and texts nobody; fed the list
    the run read it then finishes: every recipient texted once."""
    running = slow_simulator
    numbers = _numbers(500)
    listing, resorted = tmp_path / "list.txt", tmp_path / "resorted.txt"
    listing.write_text("".join(f"{n}\n" for n in numbers))
    resorted.write_text("".join(f"{n}\n" for n in reversed(numbers)))
    report = tmp_path / "r.json"
    with listing.open("rb") as stdin:
        _interrupted_run(running, tmp_path, "--report", str(report), stdin=stdin)
    journal = f"{report}.journal"
    before = _texted(running)
    assert 0 < sum(before.values()) < len(numbers)
    with resorted.open("rb") as stdin:
        refused = _a2p(running.url, "send", "-", "--resume", journal, stdin=stdin)
        _, err = refused.communicate(timeout=120)
    message = err.decode()
    assert refused.returncode == 2, message
    assert journal in message, message
    assert "positions 0.." in message, message
    assert "same order" in message, message
    assert _texted(running) == before  # nobody texted by the refused resume
    with listing.open("rb") as stdin:
        resumed = _a2p(running.url, "send", "-", "--resume", journal, stdin=stdin)
        _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert _texted(running) == Counter(numbers)
