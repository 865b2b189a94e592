"""What ``a2p outcomes`` says at the end: the run's totals over every row, and with --only the
totals of the rows it wrote (``selected``), each a JSON object on its own line."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from engine.cli.outcomes import _print_totals
from engine.results.rows import Totals, row_of, wanted
from engine.results.walk import Record


def export_of(only: tuple[str, ...]) -> Any:
    """An export's end state: 3 rows never sent (retryable) and 2 rejected locally, of which
    ``only`` kept what it names."""
    totals, selected = Totals(), Totals()
    never = row_of(Record(0, 2, "+1", None), None, {})
    for k in range(5):
        row = never if k < 3 else never._replace(outcome="rejected-local", retryable=False)
        totals.add(row)
        if only == () or row.outcome in only:
            selected.add(row)
    return SimpleNamespace(totals=totals, selected=selected, only=wanted(only), pages=0,
                           client=SimpleNamespace(requests=2), unmatched=0)


def said(err: str, name: str) -> dict[str, Any]:
    """The JSON object of the ``a2p outcomes: NAME {...}`` line."""
    line = next(x for x in err.splitlines() if x.startswith(f"a2p outcomes: {name} "))
    return dict(orjson.loads(line.split(" ", 3)[3]))


def test_with_only_the_selection_is_totalled_apart_from_the_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--only rejected-local: the totals line describes every row of the run (3 retryable),
    the selected line exactly the 2 rows written, none retryable."""
    export = export_of(("rejected-local",))
    _print_totals(export, "out.csv")
    err = capsys.readouterr().err
    assert "a2p outcomes: 5 rows, 2 of them written (--only); 0 pages in 2 requests" in err
    totals = said(err, "totals")
    assert (totals["rows"], totals["not-sent"], totals["retryable"]) == (5, 3, 3)
    selected = said(err, "selected")
    assert (selected["rows"], selected["rejected-local"], selected["not-sent"],
            selected["retryable"]) == (2, 2, 0, 0)


def test_without_only_every_row_is_written_and_no_selection_is_said(
        capsys: pytest.CaptureFixture[str]) -> None:
    """No --only: one totals line, no selected line."""
    _print_totals(export_of(()), "out.csv")
    err = capsys.readouterr().err
    assert "a2p outcomes: 5 rows; 0 pages" in err
    assert "selected" not in err
    assert sum(line.startswith("a2p outcomes: totals ") for line in err.splitlines()) == 1
