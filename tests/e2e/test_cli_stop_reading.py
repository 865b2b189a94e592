"""Ctrl-C while a large batch is still being read from a slow stdin: the stop is heard within
one reader block (about 4 MiB), not when the batch fills, nothing partly read is POSTed, and
--resume then sends every recipient exactly once."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import orjson
import pytest

from engine.simulator import SimulatorThread
from tests.conftest import sim_settings

SENDER = "+16505550100"
DEMO = {"RC_APP_CLIENT_ID": "demo-client-id", "RC_APP_CLIENT_SECRET": "demo-client-secret",
        "RC_USER_JWT": "demo-user-jwt"}
MB = 1_000_000
BATCH = 10 * MB  # --max-batch-bytes: larger than two reader blocks (4 MiB each)


def _env(url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    return {**base, **DEMO, "RC_SERVER_URL": url}


def _listing() -> tuple[bytes, list[str]]:
    """About 24 MB of CSV: 24,000 recipients with texts of 990 characters each."""
    numbers = [f"+1{area}555{i:04d}" for area in (212, 213, 214) for i in range(8000)]
    text = "Your statement is ready; " + "x" * 965
    rows = b"".join(f"{n},{text}\n".encode() for n in numbers)
    return b"to,text\n" + rows, numbers


def _lines(stream: IO[bytes], into: queue.Queue[bytes]) -> None:
    for line in iter(stream.readline, b""):
        into.put(line)
    into.put(b"")


def _until(lines: queue.Queue[bytes], wanted: bytes, seen: list[bytes]) -> None:
    """Read lines (each waited for at most 60 s) until one holds ``wanted``."""
    while True:
        line = lines.get(timeout=60)
        assert line, f"the run ended before {wanted!r}: {b''.join(seen).decode()}"
        seen.append(line)
        if wanted in line:
            return


def _feed(stdin: IO[bytes], data: bytes) -> bool:
    """Write ``data`` 64 kB at a time; False when the run closed its input first."""
    try:
        for at in range(0, len(data), 1 << 16):
            stdin.write(data[at:at + (1 << 16)])
            stdin.flush()
    except BrokenPipeError:
        return False
    return True


@pytest.mark.slow
def test_ctrl_c_is_heard_within_a_block_of_a_slow_stdin_and_resume_sends_each_once(
        tmp_path: Path) -> None:
    """14 MB fed, one 10 MB batch sent, then Ctrl-C while the next batch is being read: the
    run stops reading within a block (its stdin closes while the test still feeds it, long
    before the 20 MB the second batch needs), exits 130 with one batch on the server, and a
    resume fed the whole list sends the other 23,000-odd recipients, none twice."""
    listing, numbers = _listing()
    report = tmp_path / "r.json"
    settings = sim_settings(messages_per_second=1e6)
    with SimulatorThread(settings) as running:
        env = _env(running.url)
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "send", "-", "--from", SENDER, "--report",
             str(report), "--no-preflight", "--max-batch-bytes", str(BATCH), "--wait",
             "accepted", "-q"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        events: queue.Queue[bytes] = queue.Queue()
        notes: queue.Queue[bytes] = queue.Queue()
        readers = [threading.Thread(target=_lines, args=(process.stdout, events), daemon=True),
                   threading.Thread(target=_lines, args=(process.stderr, notes), daemon=True)]
        for reader in readers:
            reader.start()
        seen: list[bytes] = []
        try:
            assert _feed(process.stdin, listing[:14 * MB])
            _until(events, b'"chunk_submitted"', seen)  # the first 10 MB batch is sent
            process.send_signal(signal.SIGINT)
            _until(notes, b"a2p: stopping", seen)
            # the reader is inside a block: it reads to its end (at most ~4 MiB), then stops;
            # before the fix it read on until the next batch filled (20 MB) or stdin ended
            closed_early = not _feed(process.stdin, listing[14 * MB:19 * MB])
        finally:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            code = process.wait(timeout=60)
        for reader in readers:
            reader.join(timeout=10)
        process.stdout.close()
        process.stderr.close()
        document = orjson.loads(report.read_bytes())  # before the resume writes its own
        batches = len(running.simulator.store.batches)
        first = sorted(entry[2] for entry in running.simulator.store.ledger())
        resumed = subprocess.run(
            [sys.executable, "-m", "engine", "send", "-", "--from", SENDER, "--resume",
             f"{report}.journal", "--wait", "accepted", "-q"],
            input=listing, capture_output=True, env=env, timeout=120, check=False)
        ledger = sorted(entry[2] for entry in running.simulator.store.ledger())
    stderr = b"".join(seen).decode()
    while not notes.empty():
        stderr += notes.get().decode()
    assert code == 130, stderr
    assert closed_early, "the run read on after Ctrl-C instead of stopping within a block"
    assert "Traceback" not in stderr
    assert batches == 1
    assert document["interrupted"] is True
    assert [b["status"] for b in document["batches"]] == ["accepted"]
    sent = document["batches"][0]["messages"]
    assert first == sorted(numbers[:sent])
    assert document["totals"]["sent"] == sent
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert ledger == sorted(numbers)  # every recipient once: none of the first batch again
