"""``-q`` means quiet for every command: nothing on stderr but errors. What a command
answers (a plan, a check, the settings, the rows) still goes where it goes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import SimulatorThread
from tests.conftest import sim_settings

SENDER = "+16505550100"
TEXT = "Acme: your order shipped. Reply STOP to opt out"


def test_every_command_under_q_prints_nothing_but_errors(tmp_path: Path) -> None:
    """send, outcomes, plan, check, optouts pull and push, and config with -q: empty stderr
    and exit 0, each having done its work; an error still says what went wrong."""
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"+1415555{i:04d}\n" for i in range(120)) + "bad\n")
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+14155550001\n")
    settings = replace(sim_settings(messages_per_second=1e6), credentials=DEMO_CREDENTIALS)
    with SimulatorThread(settings) as running:
        env = {**os.environ, "RC_SERVER_URL": running.url,
               "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
               "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
               "RC_USER_JWT": DEMO_CREDENTIALS.jwt}

        def a2p(*words: str) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([sys.executable, "-m", "engine.cli", *words],
                                  capture_output=True, env=env, timeout=120, check=False,
                                  cwd=tmp_path)

        report, journal = tmp_path / "report.json", tmp_path / "run.journal"
        runs = {
            "send": a2p("-q", "send", str(listing), "--from", SENDER, "--text", TEXT,
                        "--report", str(report), "--journal", str(journal),
                        "--max-batch-bytes", "1500"),
            "outcomes": a2p("-q", "outcomes", str(journal), "--out",
                            str(tmp_path / "rows.csv")),
            "plan": a2p("-q", "plan", str(listing), "--from", SENDER, "--text", TEXT),
            "check": a2p("-q", "check", "--from", SENDER),
            "pull": a2p("-q", "optouts", "pull", "--out", str(tmp_path / "optouts.csv")),
            "push": a2p("-q", "optouts", "push", str(dnc)),
            "config": a2p("-q", "config"),
        }
        failing = a2p("-q", "outcomes", str(tmp_path / "missing.journal"))
    for name, result in runs.items():
        assert (name, result.returncode, result.stderr.decode()) == (name, 0, "")
    assert (tmp_path / "rows.csv").read_text().count("\n") == 122  # a header and each row
    assert (tmp_path / "optouts.csv").exists()
    assert b"to send" in runs["plan"].stdout
    assert runs["check"].stdout
    assert runs["config"].stdout
    assert failing.returncode != 0
    assert b"missing.journal" in failing.stderr
