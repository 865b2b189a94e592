"""The benchmark harness works end to end on CI-sized inputs (a smoke test: no speed asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.badend import BAD_SUITES, targets

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_suite_writes_results_table_and_compares(tmp_path: Path) -> None:
    """``a2p bench quick`` writes results.json (figures with min/median/max and ratios) and a
    Markdown table, and --compare reads an earlier results.json (the bad end has its own
    test below)."""
    run = [sys.executable, "-m", "engine.cli", "bench", "quick", "--only", "chunking,plan,e2e",
           "--out", str(tmp_path)]
    subprocess.run(run, cwd=ROOT, check=True, capture_output=True, timeout=300)
    results = orjson.loads((tmp_path / "results.json").read_bytes())
    measures = {f["measure"] for f in results["figures"]}
    assert measures == {"chunking", "plan", "e2e"}
    for figure in results["figures"]:
        seconds, floor = figure["seconds"], figure["floorSeconds"]
        assert seconds["min"] <= seconds["median"] <= seconds["max"]
        # the ratio is the approach's median over its floor's; a floor's is 1
        assert figure["ratio"] == pytest.approx(seconds["median"] / floor["median"])
        assert figure["perSecond"] == pytest.approx(figure["size"] / seconds["median"])
        if figure["approach"] == "floor":
            assert figure["ratio"] == 1.0
        # bytes, not getrusage's KiB: any Python process that loaded orjson holds > 8 MiB
        assert figure["peakRss"] > 8 * 2**20
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


@pytest.mark.slow
def test_quick_bad_end_prints_its_figures_targets_and_readme_rows(tmp_path: Path) -> None:
    """``a2p bench quick --only badend`` measures plan and send at both reject rates and every
    size, --dedupe and the quoted personalised CSV, checks every target as PASS or FAIL, and
    prints the README's bad-end rows with every cell filled."""
    run = [sys.executable, "-m", "engine.cli", "bench", "quick", "--only", "badend", "--out",
           str(tmp_path)]
    done = subprocess.run(run, cwd=ROOT, check=True, capture_output=True, text=True,
                          timeout=900)
    results = orjson.loads((tmp_path / "results.json").read_bytes())
    figures = results["figures"]
    got = {(f["measure"], f["approach"], f["shape"], f["size"]) for f in figures}
    sizes = BAD_SUITES["quick"].sizes
    for kind in ("bad30", "bad95"):
        for n in sizes:
            assert ("plan", "a2p plan csv", kind, n) in got  # the table
            assert ("plan-json", "a2p plan --json csv", kind, n) in got
            assert ("e2e", "a2p send", kind, n) in got
    for n in BAD_SUITES["quick"].quoted_sizes:
        assert ("plan", "a2p plan --json csv", "quoted", n) in got
    shares = {f["shape"]: f["rejectedShare"] for f in figures if "rejectedShare" in f}
    assert 0.27 < shares["bad30"] < 0.35  # random +1 numbers: about 31 % fail the NANP checks
    assert shares["bad95"] == pytest.approx(0.95)
    (dedupe,) = [f for f in figures if f["measure"] == "dedupe"]
    assert dedupe["size"] == BAD_SUITES["quick"].dedupe_size
    assert dedupe["bytesPerRecipient"] == pytest.approx(
        (dedupe["peakRss"] - dedupe["peakRssWithout"]) / dedupe["size"])
    for figure in figures:
        assert figure["ratio"] == pytest.approx(figure["seconds"]["median"]
                                                / figure["floorSeconds"]["median"])
        assert figure["peakRss"] > 8 * 2**20
    names = [t["target"] for t in results["targets"]]
    # plan (the table and --json) and send, both rates
    assert len([n for n in names if "peak RSS" in n]) == 6
    assert len([n for n in names if n.startswith("a2p plan bad30 time")]) == len(sizes)
    assert len([n for n in names if n.startswith("a2p plan --dedupe")]) == 1
    assert len([n for n in names if n.startswith("a2p plan quoted time")]) == len(
        BAD_SUITES["quick"].quoted_sizes)
    table = (tmp_path / "results.md").read_text()
    for target in results["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        assert f"- {verdict}  {target['target']}: " in table
        assert f"{verdict}  {target['target']}: " in done.stdout  # the log says it too
    readme = table[table.index("## README rows"):].splitlines()[2:]
    command = "`python -m benchmarks quick --only badend`"
    blank = readme.index("")
    rates, others = readme[:blank], readme[blank + 1:]
    # the command that made them, and the measured share, e.g. 31 %
    assert rates[0].startswith(f"| at the bad end ({command}) | 3")
    assert [row.split(" |")[0] for row in rates[2:]] == [
        "| `a2p plan` (the table) 20k / 50k rows vs csv pass + dumps of the valid",
        "| `a2p plan --json` (every rejection) 20k / 50k rows vs the same floor",
        "| `a2p plan` peak RSS, 20k to 50k rows (growth)",
        "| `a2p plan --json` peak RSS, 20k to 50k rows (growth)",
        "| `a2p send` 20k / 50k rows vs csv pass + a bare aiohttp loop",
        "| `a2p send` peak RSS, 20k to 50k rows (growth)"]
    assert others[0] == f"| figure ({command}) | measured | target |"
    assert [row.split(" |")[0] for row in others[2:]] == [
        "| `a2p plan --dedupe`, 50k distinct numbers: (peak RSS with - without) / recipients",
        "| quoted personalised CSV, `a2p plan --json` 20k / 50k rows vs its own floor"]
    assert all(row.count("|") == 5 for row in rates)  # four cells a row, every one filled
    assert all(row.count("|") == 4 for row in others)
    assert all("| |" not in row and "||" not in row for row in readme)


def _figure(measure: str, shape: str, size: int, ratio: float, rss: int) -> dict[str, Any]:
    return {"measure": measure, "approach": "a2p plan csv", "shape": shape, "size": size,
            "ratio": ratio, "peakRss": rss}


def test_targets_pass_at_the_limit_and_fail_past_it() -> None:
    """A peak RSS growing 1.2x from the smallest size to the largest passes and 1.25x fails;
    a plan at 30 % rejected 2.0x its floor passes, 2.1x fails; 16 bytes a recipient pass."""
    figures = [_figure("plan", "bad30", 1000, 2.0, 100), _figure("plan", "bad30", 20000, 2.1, 120),
               _figure("plan", "bad95", 1000, 5.0, 100), _figure("plan", "bad95", 20000, 5.0, 125),
               {**_figure("dedupe", "broadcast", 20000, 1.0, 0), "bytesPerRecipient": 16.0}]
    verdicts = {t["target"]: t["pass"] for t in targets(figures)}
    assert verdicts == {"a2p plan bad30 peak RSS 20,000 / 1,000": True,
                        "a2p plan bad95 peak RSS 20,000 / 1,000": False,
                        "a2p plan bad30 time 1,000 vs floor": True,
                        "a2p plan bad30 time 20,000 vs floor": False,
                        "a2p plan --dedupe 20,000 bytes a recipient": True}


def test_the_json_plan_is_held_to_flat_memory_but_its_time_is_only_reported() -> None:
    """``a2p plan --json`` (every rejection written) has the table's memory target and no time
    target: the time target is the table's, the plan the issue measured."""
    json = [{**_figure("plan-json", "bad30", size, 9.0, rss), "approach": "a2p plan --json csv"}
            for size, rss in ((1000, 100), (20000, 130))]
    table = [_figure("plan", "bad30", 1000, 1.5, 100), _figure("plan", "bad30", 20000, 1.9, 100)]
    verdicts = {t["target"]: t["pass"] for t in targets(json + table)}
    assert verdicts == {"a2p plan --json bad30 peak RSS 20,000 / 1,000": False,
                        "a2p plan bad30 peak RSS 20,000 / 1,000": True,
                        "a2p plan bad30 time 1,000 vs floor": True,
                        "a2p plan bad30 time 20,000 vs floor": True}


def test_full_runs_every_part_unless_told_otherwise() -> None:
    """``python -m benchmarks full`` runs the bad end with the rest; --only picks parts and
    refuses an unknown one."""
    import argparse

    from benchmarks.harness import PARTS, _parts

    assert set(PARTS) == {"chunking", "plan", "e2e", "badend"}
    assert _parts("badend") == ("badend",)
    with pytest.raises(argparse.ArgumentTypeError, match="unknown part"):
        _parts("badend,speed")
