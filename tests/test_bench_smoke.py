"""The benchmark harness works end to end on CI-sized inputs (a smoke test: no speed asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def test_quick_suite_writes_results_table_and_compares(tmp_path: Path) -> None:
    """``a2p bench quick`` writes results.json (figures with min/median/max and ratios) and a
    Markdown table, and --compare reads an earlier results.json."""
    run = [sys.executable, "-m", "engine.cli", "bench", "quick", "--out", str(tmp_path)]
    subprocess.run(run, cwd=ROOT, check=True, capture_output=True, timeout=300)
    results = orjson.loads((tmp_path / "results.json").read_bytes())
    measures = {f["measure"] for f in results["figures"]}
    assert measures == {"chunking", "plan", "e2e"}
    for figure in results["figures"]:
        assert figure["seconds"]["min"] <= figure["seconds"]["median"] <= figure["seconds"]["max"]
        assert figure["ratio"] > 0
        assert figure["peakRss"] > 0
    assert results["machine"]["python"]
    assert "| chunking | ours |" in (tmp_path / "results.md").read_text()
    again = tmp_path / "again"
    compared = subprocess.run([*run[:-1], str(again), "--compare", str(tmp_path / "results.json")],
                              cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)
    assert "old ratio" in compared.stdout


def test_quick_never_overwrites_the_committed_full_results() -> None:
    """Without --out, quick writes under benchmarks/results/quick, so docs/benchmarks.md's
    `a2p bench quick --compare benchmarks/results/results.json` compares two runs."""
    from benchmarks.harness import default_out

    assert default_out("full") == ROOT / "benchmarks" / "results"
    assert default_out("quick") == ROOT / "benchmarks" / "results" / "quick"
