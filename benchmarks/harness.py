"""The benchmark harness: one command, every figure a ratio against a floor measured in the
same run, written as results.json, a Markdown table and plots.

    python -m benchmarks quick|full [--only PARTS] [--out DIR] [--compare OLD.json]
                                                                      (or: a2p bench ...)

quick: CI-sized inputs, a smoke test of the harness (not of the speed). full: up to 20M.
--only chunking,plan,e2e,badend runs those parts (default: all); badend is issue 20's bad end
(benchmarks/badend.py: lists 30 % and 95 % rejected, --dedupe, quoted personalised CSV) with
its targets checked, PASS or FAIL.
The per-record loop and elasticsearch-py stop at 1M recipients in memory: they hold one small
bytes object (or two) per message, 4.3 GB and 8.7 GB at 1M, and 2M would not fit beside the
rest on a 24 GiB machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks.inputs import input_file
from benchmarks.plots import plots
from benchmarks.procstat import MIB, rss_bytes
from benchmarks.simproc import DEMO_ENV, FAST_CONFIG, SimulatorProcess, post_bodies

HERE = Path(__file__).parent
SENDER = "+16505550100"
TEXT = "Your table is ready. Reply STOP to opt out."


@dataclass(frozen=True)
class Suite:
    chunk_sizes: tuple[int, ...]
    slow_sizes: tuple[int, ...]   # the per-record loop and elasticsearch-py: slow by nature
    plan_sizes: tuple[int, ...]
    e2e_size: int
    e2e_personal_size: int
    repeats: int


SUITES = {
    "quick": Suite((20_000, 50_000), (20_000,), (20_000, 50_000), 50_000, 20_000, 2),
    "full": Suite((200_000, 1_000_000, 2_000_000, 10_000_000), (200_000, 1_000_000),
                  (1_000_000, 2_000_000, 10_000_000, 20_000_000), 10_000_000, 2_000_000, 3),
}


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def child(approach: str, n: int, shape: str, repeats: int) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "benchmarks.child", approach, str(n), shape,
                             str(repeats)], capture_output=True, text=True, check=True)
    data: dict[str, Any] = orjson.loads(result.stdout.strip().splitlines()[-1])
    return data


def has_elasticsearch() -> bool:
    try:
        importlib.metadata.version("elasticsearch")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def chunking(suite: Suite, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Chunking records in memory, every approach against one orjson.dumps of the body."""
    figures = []
    for shape in ("broadcast", "personal"):
        for n in suite.chunk_sizes:
            floor = child("floor", n, shape, suite.repeats)
            approaches = ["ours"]
            if n in suite.slow_sizes:
                approaches += ["per_record"] + (["elasticsearch"] if has_elasticsearch() else [])
            for approach in approaches:
                got = child(approach, n, shape, suite.repeats)
                figures.append(_figure("chunking", approach, n, shape, got["seconds"],
                                       floor["seconds"], got["peak_rss"], "orjson.dumps"))
                log(_line(figures[-1]))
            figures.append(_figure("chunking", "floor", n, shape, floor["seconds"],
                                   floor["seconds"], floor["peak_rss"], "orjson.dumps"))
    return figures


def _figure(measure: str, approach: str, n: int, shape: str, seconds: list[float],
            floor: list[float], peak_rss: int, floor_name: str) -> dict[str, Any]:
    mine = spread(seconds)
    base = spread(floor)
    return {"measure": measure, "approach": approach, "size": n, "shape": shape,
            "seconds": mine, "floor": floor_name, "floorSeconds": base,
            "ratio": mine["median"] / base["median"], "perSecond": n / mine["median"],
            "peakRss": peak_rss}


def _line(f: dict[str, Any]) -> str:
    return (f"{f['measure']:<9} {f['approach']:<14} {f['shape']:<10} {f['size']:>11,} "
            f"{f['seconds']['median']:>8.3f} s  x{f['ratio']:>6.2f} vs {f['floor']:<22} "
            f"peak {f['peakRss'] / MIB:>7.0f} MiB")


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall time of a fresh Python process (interpreter start included), and its stderr."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                            env=env)
    return time.perf_counter() - started, result.stderr


def plan_run(path: Path, personal: bool = False, extra: tuple[str, ...] = (),
             json: bool = True) -> tuple[float, int]:
    """(seconds, peak RSS) of ``a2p plan`` of ``path`` in a fresh process, output to
    /dev/null: ``--json`` (every rejection listed) unless ``json`` is False (the table)."""
    text = [] if personal else ["--text", TEXT]
    elapsed, err = timed(["-m", "benchmarks.plan_child", str(path), "--from", SENDER, *text,
                          *extra, *(["--json"] if json else [])])
    found = re.search(r"peak_rss_bytes=(\d+) status=0", err)
    assert found, err
    return elapsed, int(found.group(1))


def floor_run(kind: str, path: Path) -> float:
    """The reading floor of one file, in a fresh process as the plan is."""
    return timed(["-m", "benchmarks.floor_child", kind, str(path)])[0]


# The dumps floor of a body of n messages; past this size it is the floor of this many times
# n / this (one dumps per 50 MB body is what the engine does; one body of 20M dicts would not
# fit beside the rest in 24 GiB).
DUMPS_FLOOR_MAX = 2_000_000


def dumps_floor(n: int, shape: str, repeats: int) -> tuple[list[float], str]:
    size = min(n, DUMPS_FLOOR_MAX)
    seconds = child("floor", size, shape, repeats)["seconds"]
    if size == n:
        return seconds, "dumps"
    return [s * n / size for s in seconds], f"dumps of {size:,} x {n / size:g}"


def plan(suite: Suite, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """``a2p plan`` on each file against that file's own floor: a ``csv.reader`` pass (CSV,
    plain lines) or an ``orjson.loads`` pass (JSONL), in a fresh process like the plan, plus
    one ``orjson.dumps`` of the body. JSONL is also set against the CSV floor of the same
    data. Engine and floor runs alternate, so load on the machine hits both alike."""
    figures = []
    for n in suite.plan_sizes:
        inputs = [("csv", False), ("csv", True)]
        if n == suite.plan_sizes[1]:  # every format and shape at the second size
            inputs += [("lines", False), ("jsonl", False), ("jsonl", True)]
        dumps = {shape: dumps_floor(n, shape, suite.repeats) for shape in ("broadcast",
                                                                           "personal")}
        csv_floors: dict[bool, list[float]] = {}
        for fmt, personal in inputs:
            shape = "personal" if personal else "broadcast"
            path = input_file(n, fmt, personal)
            kind = "jsonl" if fmt == "jsonl" else "csv"
            runs, reads = [], []
            for _ in range(suite.repeats):
                runs.append(plan_run(path, personal))
                reads.append(floor_run(kind, path))
            seconds, peak = [r[0] for r in runs], max(r[1] for r in runs)
            dumps_seconds, dumps_name = dumps[shape]
            floor = _plus(reads, dumps_seconds)
            name = f"{'orjson.loads' if kind == 'jsonl' else 'csv.reader'} pass + {dumps_name}"
            figures.append(_figure("plan", f"a2p plan {fmt}", n, shape, seconds, floor, peak,
                                   name))
            log(_line(figures[-1]))
            if fmt == "csv":
                csv_floors[personal] = floor
            elif fmt == "jsonl" and personal in csv_floors:
                figures.append(_figure("plan", f"a2p plan {fmt}", n, shape, seconds,
                                       csv_floors[personal], peak,
                                       f"same data as CSV: csv.reader pass + {dumps_name}"))
                log(_line(figures[-1]))
    return figures


def _plus(a: list[float], b: list[float]) -> list[float]:
    """Two floors added run by run (fastest with fastest), for min/median/max."""
    return [x + y for x, y in zip(sorted(a), sorted(b), strict=True)]


def end_to_end(suite: Suite, log: Callable[[str], None], work: Path
               ) -> tuple[list[dict[str, Any]], list[tuple[float, int]]]:
    """``a2p send`` against the simulator in another process, against a bare aiohttp loop
    posting the same pre-built bodies, for a broadcast list and for per-message texts; the
    sender's memory sampled over time (broadcast)."""
    config = work / "sim.toml"
    config.write_text(FAST_CONFIG)
    figures: list[dict[str, Any]] = []
    samples: list[tuple[float, int]] = []
    for shape, n, fmt in (("broadcast", suite.e2e_size, "lines"),
                          ("personal", suite.e2e_personal_size, "csv")):
        figure, trace = _send_against_floor(suite, log, work, config, input_file(n, fmt,
                                            shape == "personal"), shape, n)
        figures.append(figure)
        samples = samples or trace
    return figures, samples


def _send_against_floor(suite: Suite, log: Callable[[str], None], work: Path, config: Path,
                        path: Path, shape: str, n: int
                        ) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    from engine.batching.chunker import chunk_blocks
    from engine.reading import ReadOptions, read_lines

    text = TEXT if shape == "broadcast" else None
    with path.open("rb") as handle:
        blocks = read_lines(handle, ReadOptions(source=str(path), batch_text=text),
                            lambda r: None)
        bodies = [c.data for c in chunk_blocks(blocks, SENDER, text, 50_000_000)]
    walls: list[float] = []
    floors: list[float] = []
    samples: list[tuple[float, int]] = []
    peak = 0
    for repeat in range(suite.repeats):
        sim = SimulatorProcess(config)
        try:
            wall, rss, trace = _send_sampled(sim, path, work, text)
            throttled = sim.stats()["responses"]
        finally:
            sim.stop()
        walls.append(wall)
        peak = max(peak, rss)
        samples = samples or trace
        assert isinstance(throttled, dict)
        if throttled.get("429"):
            raise AssertionError(f"the engine met {throttled['429']} responses 429")
        sim = SimulatorProcess(config)
        try:
            started = time.perf_counter()
            asyncio.run(post_bodies(sim.url, bodies, 4))
            floors.append(time.perf_counter() - started)
        finally:
            sim.stop()
        log(f"e2e {shape} repeat {repeat + 1}: a2p send {wall:.1f} s, wire floor "
            f"{floors[-1]:.1f} s")
    figure = _figure("e2e", "a2p send", n, shape, walls, floors, peak,
                     "aiohttp loop, pre-built bodies")
    log(_line(figure))
    return figure, samples


def _send_sampled(sim: SimulatorProcess, path: Path, work: Path, text: str | None
                  ) -> tuple[float, int, list[tuple[float, int]]]:
    env = {**os.environ, **DEMO_ENV, "RC_SERVER_URL": sim.url}
    report = work / f"report-{time.monotonic_ns()}.json"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.send_child", str(path), "--from", SENDER,
         *(["--text", text] if text is not None else []), "--report", str(report), "--wait",
         "completed"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    trace = []
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError, KeyError, ProcessLookupError):
            trace.append((time.perf_counter() - started, rss_bytes(process.pid)[0]))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    _, err = process.communicate()
    found = re.search(r"peak_rss_bytes=(\d+) status=0", err)
    assert found, err[-2000:]
    return wall, int(found.group(1)), trace


def machine() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in ("a2p-batch-engine", "aiohttp", "orjson", "anyio", "elasticsearch",
                 "matplotlib"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"platform": platform.platform(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "packages": versions}


def growth(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Peak RSS of each approach at its largest input over its smallest."""
    out = []
    keys = {(f["measure"], f["approach"], f["shape"]) for f in figures}
    for key in sorted(keys):
        runs = sorted((f for f in figures if (f["measure"], f["approach"], f["shape"]) == key),
                      key=lambda f: f["size"])
        if runs[0]["size"] != runs[-1]["size"]:
            out.append({"measure": key[0], "approach": key[1], "shape": key[2],
                        "from": runs[0]["size"], "to": runs[-1]["size"],
                        "rssGrowth": runs[-1]["peakRss"] / runs[0]["peakRss"]})
    return out


def markdown(results: dict[str, Any]) -> str:
    rows = ["| measure | approach | shape | recipients | median s (min-max) | vs floor | "
            "floor | per second | peak RSS |", "|---|---|---|---:|---:|---:|---|---:|---:|"]
    for f in results["figures"]:
        s = f["seconds"]
        rows.append(f"| {f['measure']} | {f['approach']} | {f['shape']} | {f['size']:,} | "
                    f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f}) | "
                    f"**{f['ratio']:.2f}** | {f['floor']} | {f['perSecond']:,.0f} | "
                    f"{f['peakRss'] / MIB:,.0f} MiB |")
    rows += ["", "| RSS growth | shape | from | to | largest / smallest |",
             "|---|---|---:|---:|---:|"]
    rows += [f"| {g['measure']} {g['approach']} | {g['shape']} | {g['from']:,} | {g['to']:,} | "
             f"{g['rssGrowth']:.2f} |" for g in results["growth"]]
    m = results["machine"]
    rows += ["", f"Suite `{results['suite']}`, {results['seconds']:.0f} s, on {m['cpus']} CPUs, "
             f"Python {m['python']}, {m['platform']}."]
    return "\n".join(rows)


def compare(old: dict[str, Any], new: dict[str, Any]) -> str:
    def key(f: dict[str, Any]) -> tuple[str, str, str, int]:
        return f["measure"], f["approach"], f["shape"], f["size"]

    before = {key(f): f for f in old["figures"]}
    lines = [f"{'figure':<58} {'old ratio':>9} {'new ratio':>9} {'change':>8}"]
    for f in new["figures"]:
        was = before.get(key(f))
        if was is not None:
            name = " ".join(str(part) for part in key(f))
            change = (f["ratio"] - was["ratio"]) / was["ratio"] * 100
            lines.append(f"{name:<58} {was['ratio']:>9.2f} {f['ratio']:>9.2f} {change:>+7.1f}%")
    return "\n".join(lines)


PARTS = ("chunking", "plan", "e2e", "badend")


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose among {', '.join(PARTS)}")
    return parts


def compile_sources() -> None:
    """Byte-compile the engine and the harness once, before anything is timed, as ``pip
    install`` does: every figure runs a fresh interpreter, and with PYTHONDONTWRITEBYTECODE
    set (as in this project's shells) each would otherwise compile the engine's sources
    again, some 70 ms a run that an installed a2p never spends and no floor pays."""
    import compileall

    for package in ("engine", "benchmarks"):
        compileall.compile_dir(HERE.parent / package, quiet=1)


def default_out(suite: str) -> Path:
    """The committed results are the full run's; any other suite writes beside them."""
    return HERE / "results" if suite == "full" else HERE / "results" / suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suite", choices=sorted(SUITES), nargs="?", default="quick")
    parser.add_argument("--out", type=Path,
                        help="where results.json, results.md and the plots go (default: "
                        "benchmarks/results for full, benchmarks/results/quick for quick, "
                        "so a quick run never overwrites the committed full results)")
    parser.add_argument("--compare", type=Path, metavar="OLD.json",
                        help="print the change of every ratio against an earlier results.json")
    parser.add_argument("--only", type=_parts, default=PARTS, metavar="PARTS",
                        help=f"comma-separated parts to run, of {','.join(PARTS)} (default: "
                        "all; badend: issue 20's bad end and its targets)")
    args = parser.parse_args(argv)
    args.out = args.out or default_out(args.suite)
    suite = SUITES[args.suite]
    args.out.mkdir(parents=True, exist_ok=True)
    compile_sources()
    started = time.perf_counter()

    def log(line: str) -> None:
        print(line, flush=True)

    from benchmarks import badend

    figures: list[dict[str, Any]] = []
    trace: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        figures += chunking(suite, log) if "chunking" in args.only else []
        figures += plan(suite, log) if "plan" in args.only else []
        if "e2e" in args.only:
            e2e, trace = end_to_end(suite, log, Path(tmp))
            figures += e2e
        if "badend" in args.only:
            bad_started = time.perf_counter()
            figures += badend.bad_end(args.suite, log, Path(tmp))
            log(f"bad end: {time.perf_counter() - bad_started:.0f} s")
    results = {"suite": args.suite, "parts": list(args.only), "machine": machine(),
               "seconds": 0.0, "e2eSize": suite.e2e_size, "figures": figures,
               "growth": growth(figures), "targets": badend.targets(figures)}
    results["seconds"] = time.perf_counter() - started
    (args.out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    table = markdown(results) + badend.markdown(results)
    (args.out / "results.md").write_text(table + "\n")
    made = plots(results, trace, args.out)
    log("\n" + table)
    log("plots: " + (", ".join(str(p) for p in made) or "none (pip install -e '.[bench]')"))
    if args.compare is not None:
        log("\n" + compare(orjson.loads(args.compare.read_bytes()), results))
    return 0
