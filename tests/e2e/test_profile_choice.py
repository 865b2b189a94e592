"""The profile follows the server, a resume keeps its run's profile, and credentials bound
for a server on this machine are announced (issue 18, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import engine
from engine.config.credentials import Credentials
from engine.simulator import SimulatorThread
from engine.simulator.settings import DEMO_CREDENTIALS
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.e2e.test_resume import stop_after

FAST = """
[retry]
backoff_initial = 0.01
backoff_max = 0.05
request_timeout = 10.0
reconcile_window = 0.3

[polling]
interval = 0.02
max_interval = 0.1

[rate_limit]
light_requests = 10000
auth_requests = 1000
"""


async def test_a_resume_keeps_the_journals_profile(start: Start, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A run made with its own profile, resumed with the list and no --profile while
    RC_SERVER_URL points at this machine: the run's profile is used, not the simulator
    profile that the URL alone would choose, and every valid number is texted once."""
    running, _ = await start()
    mine = tmp_path / "mine.toml"
    mine.write_text(f'[server]\nurl = "{running.url}"\n{FAST}')
    listing, journal = tmp_path / "list.txt", tmp_path / "run.journal"
    numbers = [f"+1415555{i:04d}" for i in range(300)]
    listing.write_text("\n".join(numbers) + "\n")
    stop, on_event = stop_after(1)
    first = await engine.send(listing, sender=SENDER, text="Hi", config=str(mine),
                              credentials=DEMO_CREDENTIALS, journal=journal,
                              max_batch_bytes=1500, stop=stop, on_event=on_event)
    assert first["interrupted"]
    assert first["profile"] == "mine"
    monkeypatch.setenv("RC_SERVER_URL", running.url)
    report = await engine.send(listing, sender=SENDER, text="Hi", resume=journal,
                               credentials=DEMO_CREDENTIALS)
    assert report["profile"] == "mine"
    assert report["status"] == "completed"
    assert sorted(ledger_numbers(running)) == numbers


def a2p_check(url: str, credentials: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    return subprocess.run([sys.executable, "-m", "engine.cli", "check", "--from", SENDER],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**clean, "RC_SERVER_URL": url, **credentials})


def test_credentials_bound_for_this_machine_are_announced() -> None:
    """a2p check against a simulator on loopback: credentials that are not the demo ones
    get a warning naming the URL (no secret); no RC_* variables get a line saying the demo
    credentials are used; the demo ones set by hand get nothing."""
    secret, jwt = "real-looking-secret-345", "eyJ.real-looking.jwt"
    real = Credentials("my-app-id", secret, jwt)
    with SimulatorThread(replace(sim_settings(), credentials=real)) as running:
        url = running.url
        warned = a2p_check(url, {"RC_APP_CLIENT_ID": "my-app-id",
                                         "RC_APP_CLIENT_SECRET": secret, "RC_USER_JWT": jwt})
    with SimulatorThread(sim_settings()) as running:
        demo = a2p_check(running.url, {})
        quiet = a2p_check(running.url, {"RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
                                        "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
                                        "RC_USER_JWT": DEMO_CREDENTIALS.jwt})
    assert warned.returncode == 0, warned.stderr
    assert f"not the simulator's demo ones, and they go to {url}," in warned.stderr
    assert secret not in warned.stderr + warned.stdout
    assert jwt not in warned.stderr + warned.stdout
    assert demo.returncode == 0, demo.stderr
    assert "using the simulator's demo credentials for http://127.0.0.1:" in demo.stderr
    assert quiet.returncode == 0, quiet.stderr
    assert "credentials" not in quiet.stderr
