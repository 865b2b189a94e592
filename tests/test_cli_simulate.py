"""``a2p simulate`` as a user runs it: a process that serves and prints how to reach it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engine.rc import basicauth


@contextmanager
def simulate(**popen: Any) -> Iterator[subprocess.Popen[str]]:
    """``a2p simulate --port 0`` as a child process, killed (if still running) and its pipe
    closed whatever the test found."""
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "simulate", "--port", "0"],
                               stderr=subprocess.PIPE, text=True, **popen)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_simulate_serves_and_prints_demo_credentials() -> None:
    """The command prints its URL and demo credentials, then answers a JWT login."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    with simulate(env=env) as process:
        try:
            assert process.stderr is not None
            lines = [process.stderr.readline() for _ in range(6)]
            url = re.search(r"listening on (http://\S+)", lines[0])
            assert url, lines
            assert any("RC_USER_JWT=demo-user-jwt" in line for line in lines)
            request = urllib.request.Request(
                f"{url.group(1)}/restapi/oauth/token",
                data=b"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer"
                     b"&assertion=demo-user-jwt",
                headers={"Authorization": basicauth.encode("demo-client-id",
                                                           "demo-client-secret"),
                         "Content-Type": "application/x-www-form-urlencoded"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        finally:
            process.send_signal(signal.SIGINT)
            # a bound, not a timing: a busy 2-core machine (CI beside a benchmark) is slow
            assert process.wait(timeout=60) == 130


def test_help_teaches() -> None:
    """--help lists the commands with an example."""
    result = subprocess.run([sys.executable, "-m", "engine.cli", "simulate", "--help"],
                            capture_output=True, text=True, check=True)
    assert "Example: a2p simulate" in result.stdout


@pytest.mark.parametrize("how", ["ignored", "blocked"])
def test_simulate_stops_on_sigint_even_when_started_with_it_ignored_or_blocked(
        how: str) -> None:
    """Whatever started it (a test runner, a job wrapper) may hand it SIGINT ignored or
    blocked; SIGINT (as SIGTERM) still stops it, with exit 130."""
    def start() -> None:
        if how == "ignored":
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    with simulate(preexec_fn=start) as process:
        assert process.stderr is not None
        assert "listening on" in process.stderr.readline()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
