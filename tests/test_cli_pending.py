"""The summary line names pending recipients and what to do about them."""

from __future__ import annotations

import pytest

from engine.cli import summary as cli


def report(pending: int) -> dict[str, object]:
    return {"interrupted": False, "status": "completed",
            "totals": {"sent": 90, "rejectedLocal": 2, "rejectedServer": 1, "pending": pending,
                       "failedChunks": 0, "unknownChunks": 0}}


def test_the_summary_line_names_pending_recipients_and_how_to_settle_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    """7 pending: counted on the line, with --resume and 'a2p outcomes' named."""
    assert cli.finish(report(7), "r.json") == 0
    line = capsys.readouterr().err
    assert "90 sent" in line
    assert "7 pending" in line
    assert "--resume" in line
    assert "a2p outcomes" in line


def test_no_pending_no_mention(capsys: pytest.CaptureFixture[str]) -> None:
    """A run with nobody pending keeps the line as it was."""
    cli.finish(report(0), "r.json")
    assert "pending" not in capsys.readouterr().err
