"""A --suppress file that holds no numbers (a header alone: a failed export) is not refused
but warned about, loud: in the send's warning event and report, and on a2p plan's stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from tests.e2e.conftest import SENDER, Start, ledger_numbers


async def test_a_send_warns_of_a_header_only_suppression_file(start: Start,
                                                               tmp_path: Path) -> None:
    """The header-only file suppresses nobody (every recipient texted), and the run says
    so: a ``suppress`` warning naming the file, in the events and the report."""
    running, settings = await start()
    empty = tmp_path / "opt-outs.csv"
    empty.write_text("phone\n")
    kept = tmp_path / "dnc.txt"
    kept.write_text("+14155550001\n")
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    items = [f"+1415555{k:04d}" for k in range(5)]
    report = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, on_event=collect,
                               suppress=[str(empty), str(kept)], consent=False)
    assert sorted(ledger_numbers(running)) == sorted(set(items) - {"+14155550001"})
    warned = [e["message"] for e in events if e["event"] == "warning"
              and e["code"] == "suppress"]
    assert len(warned) == 1
    assert str(empty) in warned[0]
    assert "holds no numbers" in warned[0]
    assert str(kept) not in warned[0]
    assert warned[0] in report["warnings"]


def test_plan_warns_of_a_header_only_suppression_file(tmp_path: Path) -> None:
    """a2p plan --suppress of a header-only file exits 0 and warns on stderr, naming it."""
    listing = tmp_path / "list.txt"
    listing.write_text("+14155550100\n+14155550101\n")
    empty = tmp_path / "opt-outs.csv"
    empty.write_text("to\n")
    done = subprocess.run([sys.executable, "-m", "engine", "plan", str(listing), "--from",
                           SENDER, "--text", "Hi", "--suppress", str(empty)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"--suppress {empty} holds no numbers" in done.stderr
    assert "a failed export?" in done.stderr
