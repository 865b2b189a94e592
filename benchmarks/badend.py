"""The bad end (issue 20): lists that are partly or mostly wrong, ``--dedupe`` on many
distinct numbers, and personalised texts as people write them; every figure against a floor
measured in the same run, the targets checked (PASS/FAIL, never an assert), and the rows of the
README's Measured table printed as the README wants them.

- ``bad30``: random ``+1`` numbers, about 31 % rejected by the North American checks;
  ``bad95``: the wrong column, 95 % names and ids. For each, ``a2p plan`` (the table, the
  target's figure) and ``a2p plan --json`` (every rejection written out, reported beside it)
  against a ``csv.reader`` pass plus one ``orjson.dumps`` of the body of the valid rows, and
  ``a2p send``
  against the simulator (in its own process) against that ``csv.reader`` pass plus a bare
  aiohttp loop posting the same bodies; peak RSS of the engine's process alone, and its growth
  from the smallest size to the largest.
- ``--dedupe``: (peak RSS of ``a2p plan --dedupe`` - peak RSS without) / distinct numbers.
- ``quoted``: ``a2p plan --json`` of a personalised quoted CSV against a ``csv.reader`` pass
  plus ``orjson.dumps`` of bodies of its own rows (benchmarks/dumps_child.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import (
    PARTS,
    SENDER,
    TEXT,
    _figure,
    _line,
    _plus,
    _send_sampled,
    dumps_floor,
    floor_run,
    growth,
    plan_run,
)
from benchmarks.inputs import bad_input_file, input_file
from benchmarks.procstat import MIB
from benchmarks.simproc import FAST_CONFIG, SimulatorProcess, post_bodies

Log = Callable[[str], None]
RSS_GROWTH_MAX = 1.2     # peak RSS at the largest size over the smallest, plan and send
PLAN_BAD30_MAX = 2.0     # a2p plan at 30 % rejected, against its floor
DEDUPE_BYTES_MAX = 16.0  # bytes a distinct recipient
QUOTED_MAX = 2.0         # a2p plan of the quoted personalised CSV, against its floor
KINDS = {"bad30": "random `+1` numbers", "bad95": "the wrong column"}
PLAN_JSON = "plan-json"  # the measure of a2p plan --json (no time target; beside the table's)
COMMANDS = {"plan": "a2p plan", PLAN_JSON: "a2p plan --json", "e2e": "a2p send"}


@dataclass(frozen=True)
class BadSuite:
    sizes: tuple[int, ...]         # bad30 and bad95, plan and send
    quoted_sizes: tuple[int, ...]
    dedupe_size: int
    repeats: int
    send_repeats_large: int        # a2p send past the smallest size (one run of 20M: minutes)


BAD_SUITES = {
    "quick": BadSuite((20_000, 50_000), (20_000, 50_000), 50_000, 2, 1),
    "full": BadSuite((1_000_000, 5_000_000, 20_000_000), (1_000_000, 2_000_000), 20_000_000, 3,
                     1),
}


def bad_end(suite_name: str, log: Log, work: Path) -> list[dict[str, Any]]:
    """Every bad-end figure, in the order the README table reads them."""
    suite = BAD_SUITES[suite_name]
    config = work / "sim-bad.toml"
    config.write_text(FAST_CONFIG)
    figures: list[dict[str, Any]] = []
    for kind in KINDS:
        for n in suite.sizes:
            path = bad_input_file(n, kind)
            bodies, rejected = valid_bodies(path)
            share = {"rejected": rejected, "rejectedShare": rejected / n}
            for figure in plan_bad(path, n, kind, n - rejected, suite.repeats):
                figures.append({**figure, **share})
                log(_line(figures[-1]))
            repeats = suite.repeats if n == suite.sizes[0] else suite.send_repeats_large
            figures.append({**send_bad(path, n, kind, bodies, repeats, config, work, log),
                            **share})
            log(_line(figures[-1]))
            del bodies
    figures.append(dedupe(suite.dedupe_size))
    log(_line(figures[-1]) + f"  {figures[-1]['bytesPerRecipient']:.1f} bytes a recipient")
    for n in suite.quoted_sizes:
        figures.append(plan_quoted(n, suite.repeats))
        log(_line(figures[-1]))
    return figures


def valid_bodies(path: Path) -> tuple[list[bytes | bytearray], int]:
    """The request bodies the engine makes of ``path``'s valid rows (for the wire floor), and
    how many rows it rejects."""
    from engine.batching.chunker import chunk_blocks
    from engine.reading import ReadOptions, read_lines

    rows = -1  # the header
    with path.open("rb") as handle:
        for _ in handle:
            rows += 1
    with path.open("rb") as handle:
        blocks = read_lines(handle, ReadOptions(source=str(path), batch_text=TEXT),
                            lambda _: None)
        chunks = list(chunk_blocks(blocks, SENDER, TEXT, 50_000_000))
    # counted from what the bodies hold, whatever the reject sink is handed
    return [c.data for c in chunks], rows - sum(c.count for c in chunks)


def plan_bad(path: Path, n: int, kind: str, valid: int, repeats: int
             ) -> list[dict[str, Any]]:
    """``a2p plan`` (the table people read: totals, batches, the first 20 rejections; the
    target's figure) and ``a2p plan --json`` (every rejection written out; reported beside
    it), each against the same floor: a csv.reader pass of the same file plus one dumps of the
    body of its valid rows (the rejected rows go into no body). Table, --json and floor runs
    alternate."""
    tables, jsons, reads = [], [], []
    for _ in range(repeats):
        tables.append(plan_run(path, json=False))
        jsons.append(plan_run(path))
        reads.append(floor_run("csv", path))
    dumps, dumps_name = dumps_floor(valid, "broadcast", repeats)
    floor, name = _plus(reads, dumps), f"csv.reader pass + {dumps_name} of the valid"
    return [_figure(measure, approach, n, kind, [r[0] for r in runs], floor,
                    max(r[1] for r in runs), name)
            for measure, approach, runs in (("plan", "a2p plan csv", tables),
                                            (PLAN_JSON, "a2p plan --json csv", jsons))]


def send_bad(path: Path, n: int, kind: str, bodies: list[bytes | bytearray], repeats: int,
             config: Path, work: Path, log: Log) -> dict[str, Any]:
    """``a2p send --wait completed`` against the simulator in its own process (stdout events
    to /dev/null, peak RSS of the engine's process only), against a csv.reader pass of the
    file plus a bare aiohttp loop posting the same bodies to a fresh simulator."""
    walls, floors, peak, throttled = [], [], 0, 0
    for repeat in range(repeats):
        sim = SimulatorProcess(config)
        try:
            wall, rss, _ = _send_sampled(sim, path, work, TEXT)
            responses = sim.stats()["responses"]
        finally:
            sim.stop()
            for leftover in work.glob("report-*"):  # the report and journal: GBs at 20M
                leftover.unlink()
        assert isinstance(responses, dict)
        throttled += int(responses.get("429", 0))
        walls.append(wall)
        peak = max(peak, rss)
        read = floor_run("csv", path)
        sim = SimulatorProcess(config)
        try:
            started = time.perf_counter()
            asyncio.run(post_bodies(sim.url, bodies, 4))
            floors.append(read + time.perf_counter() - started)
        finally:
            sim.stop()
        log(f"e2e {kind} {n:,} repeat {repeat + 1}: a2p send {wall:.1f} s, floor "
            f"{floors[-1]:.1f} s (csv pass {read:.1f} s)")
    if throttled:
        log(f"e2e {kind} {n:,}: the engine met {throttled} responses 429 (a slower figure)")
    figure = _figure("e2e", "a2p send", n, kind, walls, floors, peak,
                     "csv.reader pass + aiohttp loop, pre-built bodies")
    return {**figure, "responses429": throttled}


def dedupe(n: int) -> dict[str, Any]:
    """``a2p plan --dedupe`` of ``n`` distinct numbers against the same plan without it: the
    bytes a recipient are the difference of the two peak RSS over ``n``. Bare ``--dedupe``,
    which keeps its meaning (by number) when it takes a value."""
    path = input_file(n, "csv", False)
    without_seconds, without_rss = plan_run(path)
    with_seconds, with_rss = plan_run(path, extra=("--dedupe",))
    figure = _figure("dedupe", "a2p plan --dedupe", n, "broadcast", [with_seconds],
                     [without_seconds], with_rss, "a2p plan without --dedupe")
    return {**figure, "peakRssWithout": without_rss,
            "bytesPerRecipient": (with_rss - without_rss) / n}


def plan_quoted(n: int, repeats: int) -> dict[str, Any]:
    """``a2p plan --json`` of the quoted personalised CSV against a csv.reader pass of it plus
    ``orjson.dumps`` of bodies of its own rows."""
    path = bad_input_file(n, "quoted")
    runs, reads = [], []
    for _ in range(repeats):
        runs.append(plan_run(path, personal=True))
        reads.append(floor_run("csv", path))
    result = subprocess.run([sys.executable, "-m", "benchmarks.dumps_child", str(path),
                             str(repeats)], capture_output=True, text=True, check=True)
    dumps = orjson.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    return _figure("plan", "a2p plan --json csv", n, "quoted", [r[0] for r in runs],
                   _plus(reads, dumps), max(r[1] for r in runs),
                   "csv.reader pass + dumps of its rows")


def _pick(figures: list[dict[str, Any]], measure: str, shape: str) -> list[dict[str, Any]]:
    return sorted((f for f in figures if f["measure"] == measure and f["shape"] == shape),
                  key=lambda f: f["size"])


def _check(name: str, value: float, limit: float) -> dict[str, Any]:
    return {"target": name, "value": value, "limit": limit, "pass": value <= limit}


def targets(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 20's targets, each with the value measured and PASS (value <= limit) or FAIL."""
    checks = []
    rises = {(g["measure"], g["shape"]): g for g in growth(figures)
             if g["shape"] in KINDS and g["measure"] in COMMANDS}
    for (measure, kind), g in sorted(rises.items()):
        checks.append(_check(f"{COMMANDS[measure]} {kind} peak RSS {g['to']:,} / "
                             f"{g['from']:,}", g["rssGrowth"], RSS_GROWTH_MAX))
    checks += [_check(f"a2p plan bad30 time {f['size']:,} vs floor", f["ratio"],
                      PLAN_BAD30_MAX) for f in _pick(figures, "plan", "bad30")]
    checks += [_check(f"a2p plan --dedupe {f['size']:,} bytes a recipient",
                      f["bytesPerRecipient"], DEDUPE_BYTES_MAX)
               for f in _pick(figures, "dedupe", "broadcast")]
    checks += [_check(f"a2p plan quoted time {f['size']:,} vs floor", f["ratio"], QUOTED_MAX)
               for f in _pick(figures, "plan", "quoted")]
    return checks


def target_lines(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']:.2f} "
            f"(target <= {c['limit']:g})" for c in checks]


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def _verdict(checks: list[dict[str, Any]], prefix: str) -> str:
    mine = [c for c in checks if c["target"].startswith(prefix)]
    if not mine:
        return ""
    return "**PASS**" if all(c["pass"] for c in mine) else "**FAIL**"


def readme_rows(figures: list[dict[str, Any]], checks: list[dict[str, Any]], command: str
                ) -> list[str]:
    """The bad-end rows of the README's Measured table, exactly as the README shows them,
    headed by the command that made them."""
    plans = {k: _pick(figures, "plan", k) for k in KINDS}
    jsons = {k: _pick(figures, PLAN_JSON, k) for k in KINDS}
    sends = {k: _pick(figures, "e2e", k) for k in KINDS}
    if not all(plans.values()) or not all(jsons.values()) or not all(sends.values()):
        return []
    sizes = " / ".join(_size(f["size"]) for f in plans["bad30"])
    edge = f"{_size(plans['bad30'][0]['size'])} to {_size(plans['bad30'][-1]['size'])}"

    def share(k: str) -> str:
        return f"{plans[k][-1]['rejectedShare'] * 100:.0f} %"

    def ratios(runs: list[dict[str, Any]]) -> str:
        return "**" + " / ".join(f"{f['ratio']:.2f}" for f in runs) + "**"

    def rss(runs: list[dict[str, Any]]) -> str:
        low, high = runs[0]["peakRss"] / MIB, runs[-1]["peakRss"] / MIB
        return f"{low:,.0f} to {high:,.0f} MiB (**{high / low:.2f}**)"

    def both(prefix: str) -> str:
        verdicts = [_verdict(checks, f"{prefix} {k} peak RSS") for k in KINDS]
        return " / ".join(v for v in verdicts if v)

    rows = [f"| at the bad end (`{command}`) | {share('bad30')} rejected ({KINDS['bad30']}) | "
            f"{share('bad95')} rejected ({KINDS['bad95']}) | target |",
            "| --- | ---: | ---: | --- |",
            f"| `a2p plan` (the table) {sizes} rows vs csv pass + dumps of the valid | "
            f"{ratios(plans['bad30'])} | {ratios(plans['bad95'])} | ≤ {PLAN_BAD30_MAX:.1f} at "
            f"30 %: {_verdict(checks, 'a2p plan bad30 time')} |",
            f"| `a2p plan --json` (every rejection) {sizes} rows vs the same floor | "
            f"{ratios(jsons['bad30'])} | {ratios(jsons['bad95'])} | none |",
            f"| `a2p plan` peak RSS, {edge} rows (growth) | {rss(plans['bad30'])} | "
            f"{rss(plans['bad95'])} | ≤ {RSS_GROWTH_MAX:.1f}: {both('a2p plan')} |",
            f"| `a2p plan --json` peak RSS, {edge} rows (growth) | {rss(jsons['bad30'])} | "
            f"{rss(jsons['bad95'])} | ≤ {RSS_GROWTH_MAX:.1f}: {both('a2p plan --json')} |",
            f"| `a2p send` {sizes} rows vs csv pass + a bare aiohttp loop | "
            f"{ratios(sends['bad30'])} | {ratios(sends['bad95'])} | none |",
            f"| `a2p send` peak RSS, {edge} rows (growth) | {rss(sends['bad30'])} | "
            f"{rss(sends['bad95'])} | ≤ {RSS_GROWTH_MAX:.1f}: {both('a2p send')} |"]
    more = [f"| `a2p plan --dedupe`, {_size(f['size'])} distinct numbers: (peak RSS with - "
            f"without) / recipients | **{f['bytesPerRecipient']:.1f}** bytes a recipient "
            f"({f['peakRssWithout'] / MIB:,.0f} to {f['peakRss'] / MIB:,.0f} MiB) | "
            f"≤ {DEDUPE_BYTES_MAX:g}: {_verdict(checks, 'a2p plan --dedupe')} |"
            for f in _pick(figures, "dedupe", "broadcast")]
    quoted = _pick(figures, "plan", "quoted")
    if quoted:
        more.append(f"| quoted personalised CSV, `a2p plan --json` "
                    f"{' / '.join(_size(f['size']) for f in quoted)} rows vs its own floor | "
                    f"{ratios(quoted)} (peak {quoted[-1]['peakRss'] / MIB:,.0f} MiB) | "
                    f"≤ {QUOTED_MAX:.1f}: {_verdict(checks, 'a2p plan quoted time')} |")
    if more:
        rows += ["", f"| figure (`{command}`) | measured | target |", "| --- | ---: | --- |",
                 *more]
    return rows


def markdown(results: dict[str, Any]) -> str:
    """The bad-end section of results.md: the targets and the README's rows."""
    checks = results.get("targets") or []
    if not checks:
        return ""
    figures = results["figures"]
    rows = ["", "", "## Targets (issue 20)", ""]
    rows += [f"- {line}" for line in target_lines(checks)]
    parts = results.get("parts", [])
    only = "" if not parts or set(parts) >= set(PARTS) else f" --only {','.join(parts)}"
    readme = readme_rows(figures, checks, f"python -m benchmarks {results['suite']}{only}")
    if readme:
        rows += ["", "## README rows (the Measured table's bad end)", "", *readme]
    return "\n".join(rows)
