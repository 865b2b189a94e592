"""The summary line: pending recipients, and what to run after a failed or stopped run."""

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


def test_a_failed_run_ends_with_the_command_that_sends_its_failed_batches_again(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Failed batches: exit 1, and the line names the --resume command and a2p outcomes."""
    failed = {"interrupted": False, "status": "failed",
              "totals": {"sent": 10, "rejectedLocal": 0, "rejectedServer": 0, "pending": 0,
                         "failedChunks": 2, "unknownChunks": 0}}
    hint = "To finish the run: a2p send list.csv --from +16505550100 --resume 'my run.journal'"
    assert cli.finish(failed, "r.json", hint=hint) == 1
    line = capsys.readouterr().err
    assert "sent again, once the cause is fixed, by: a2p send list.csv --from +16505550100 " \
           "--resume 'my run.journal'" in line
    assert line.rstrip().endswith("every recipient's fate: a2p outcomes 'my run.journal'")


def test_a_completed_run_names_no_next_step(capsys: pytest.CaptureFixture[str]) -> None:
    """A run that completed says nothing about resuming, even with a hint at hand."""
    cli.finish(report(0), "r.json", hint="To finish the run: a2p send x --resume j")
    assert "resume" not in capsys.readouterr().err
