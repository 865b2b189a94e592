"""Chunking and planning speed, as ratios against floors measured in the same run.

    python -m benchmarks.chunking [--recipients 2000000] [--big 10000000] [--repeats 3]

(a) chunking records already in memory vs one orjson.dumps of the same messages as one body;
(b) ``a2p plan`` on a CSV vs one csv.reader pass over the file plus that orjson.dumps;
(c) peak RSS of ``a2p plan`` on --big rows vs on --recipients // 2 ... (1M by default) rows;
and the obvious per-record approach (one orjson.dumps per message plus a running byte count).
"""

from __future__ import annotations

import argparse
import csv
import gc
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from benchmarks.numbers import number
from benchmarks.procstat import MIB
from engine.chunker import chunk_blocks
from engine.reader import BLOCK_SIZE, Block

SENDER = "+16505550100"
TEXT = "Your table is ready. Reply STOP to opt out."
LIMIT = 50_000_000
CACHE = Path(__file__).parent / ".cache"


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` runs, collector settled before each."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def personal_text(i: int) -> str:
    return f"Hi customer {i}, your code is {i % 999_983:06d}"


def in_memory_blocks(n: int, texts: bool) -> list[Block]:
    blocks = []
    for start in range(0, n, BLOCK_SIZE):
        ids = range(start, min(n, start + BLOCK_SIZE))
        blocks.append(Block(tos=[number(i) for i in ids],
                            texts=[personal_text(i) for i in ids] if texts else None,
                            positions=list(ids), lines=[i + 2 for i in ids]))
    return blocks


def floor_body(blocks: list[Block], texts: bool) -> dict[str, Any]:
    if texts:
        messages = [{"to": [to], "text": t} for b in blocks
                    for to, t in zip(b.tos, b.texts or [], strict=True)]
        return {"from": SENDER, "messages": messages}
    return {"from": SENDER, "text": TEXT, "messages": [{"to": [to]} for b in blocks
                                                        for to in b.tos]}


def per_record(blocks: list[Block], texts: bool) -> int:
    """What a user would write: dumps each message, count bytes, cut when the next won't fit."""
    head = len(orjson.dumps({"from": SENDER, "text": TEXT, "messages": []}))
    chunks, size, current = 0, head, []
    for block in blocks:
        for k, to in enumerate(block.tos):
            message: dict[str, Any] = {"to": [to]}
            if texts and block.texts:
                message["text"] = block.texts[k]
            encoded = orjson.dumps(message)
            if size + len(encoded) + 1 > LIMIT:
                chunks += 1
                _ = b"[" + b",".join(current) + b"]"
                size, current = head, []
            current.append(encoded)
            size += len(encoded) + 1
    return chunks + 1


def ours(blocks: list[Block], texts: bool) -> int:
    return sum(1 for _ in chunk_blocks(blocks, SENDER, None if texts else TEXT, LIMIT))


def bench_in_memory(n: int, repeats: int) -> list[tuple[str, float, float]]:
    rows = []
    for texts in (False, True):
        blocks = in_memory_blocks(n, texts)
        floor = timed(partial(orjson.dumps, floor_body(blocks, texts)), repeats)
        mine = timed(partial(ours, blocks, texts), repeats)
        naive = timed(partial(per_record, blocks, texts), repeats)
        shape = "per-message text" if texts else "broadcast"
        rows.append((f"(a) chunk {n:,} in memory, {shape}", mine, floor))
        rows.append((f"    per-record loop, {shape}", naive, floor))
    return rows


def make_csv(n: int) -> Path:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"recipients-{n}.csv"
    if not path.exists():
        with path.open("w") as handle:
            handle.write("to,name\n")
            for start in range(0, n, 100_000):
                handle.writelines(f"{number(i)},Customer {i}\n"
                                  for i in range(start, min(n, start + 100_000)))
    return path


def csv_pass(path: Path) -> None:
    with path.open(newline="") as handle:
        for _ in csv.reader(handle):
            pass


def run_plan(path: Path) -> int:
    """Run a2p plan in a child process; returns its peak RSS in bytes."""
    result = subprocess.run([sys.executable, "-m", "benchmarks.plan_child", str(path),
                             "--from", SENDER, "--text", TEXT], capture_output=True, text=True,
                            check=True)
    found = re.search(r"peak_rss_bytes=(\d+) status=0", result.stderr)
    assert found, result.stderr
    return int(found.group(1))


def bench_plan(n: int, repeats: int) -> tuple[str, float, float]:
    path = make_csv(n)
    body = {"from": SENDER, "text": TEXT, "messages": [{"to": [number(i)]} for i in range(n)]}
    dumps = timed(partial(orjson.dumps, body), repeats)
    floor = timed(partial(csv_pass, path), repeats) + dumps
    plan = timed(partial(run_plan, path), repeats)
    return (f"(b) a2p plan, {n:,}-row CSV", plan, floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2_000_000)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = bench_in_memory(args.recipients, args.repeats)
    rows.append(bench_plan(args.recipients, args.repeats))
    print(f"{'measure':<44} {'ours s':>8} {'floor s':>8} {'ratio':>6}")
    for name, mine, floor in rows:
        print(f"{name:<44} {mine:>8.3f} {floor:>8.3f} {mine / floor:>6.2f}")
    small, big = run_plan(make_csv(args.small)), run_plan(make_csv(args.big))
    print(f"(c) a2p plan peak RSS: {args.small:,} rows {small / MIB:.0f} MiB, {args.big:,} rows "
          f"{big / MIB:.0f} MiB, ratio {big / small:.2f}")


if __name__ == "__main__":
    main()
