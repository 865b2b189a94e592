"""What ``--dedupe`` costs a recipient: each candidate map from number to first line, filled
with N distinct random North American numbers in a child process of its own; the figure is the
child's peak RSS (VmHWM, so every growth transient counts) minus its RSS before the first
insert, divided by N, and the time of an insert (the loop's own cost, the ``loop`` row,
included). docs/benchmarks.md, "De-duplication", shows the table this prints.

    python -m benchmarks.dedupe_map [--sizes 1000000,5000000,20000000] [--maps dict,ours]
    python -m benchmarks.dedupe_map --ratios 1000000 --maps dict,ours,ours-message
    python -m benchmarks.dedupe_map --write-list 20000000 list.csv   # for a2p plan --dedupe

Candidates: ``dict`` (what --dedupe kept before: int -> int), ``ours`` (FirstLines,
engine/reading/firstseen.py), ``ours-0.75`` (the same, growing past a load of 0.75 instead
of 0.8), ``ours-unstaggered`` (every shard starting at one size, so all double together),
``ours-message`` (FirstMessages, a 64-bit text digest beside
each number), ``preshed`` (PreshMap, uint64 -> uint64, explosion's Cython table),
``roaring`` (pyroaring BitMap64: membership only, no line: a lower bound for a bitmap),
``loop`` (the key generation alone). preshed and pyroaring are not dependencies: install them
to measure them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.procstat import rss_bytes

SPAN = 8_000_000_000  # national numbers 2000000000..9999999999
STEP = 2_654_435_761  # odd, not a multiple of 5: i -> i * STEP % SPAN is a permutation


def national(i: int) -> int:
    """The i-th of N distinct pseudo-random national numbers, made without keeping a set."""
    return 2_000_000_000 + i * STEP % SPAN


def _inserter(name: str) -> Callable[[int, int], Any]:
    if name == "dict":
        found: dict[int, int] = {}
        return found.setdefault
    if name == "ours":
        from engine.reading.firstseen import FirstLines

        return FirstLines().first
    if name in ("ours-0.75", "ours-unstaggered"):
        from engine.reading import firstseen

        if name == "ours-0.75":  # grow past a load of 0.75 instead of 0.8
            firstseen._room = lambda size: size * 3 // 4 + 1
        else:  # every shard the same size: all double at about the same count
            firstseen._start_size = lambda shard: 64
        return firstseen.FirstLines().first
    if name == "ours-message":
        from engine.reading.firstseen import FirstMessages

        messages = FirstMessages()
        return lambda key, line: messages.first(key, key * STEP & 0xFFFFFFFFFFFFFFFF, line)
    if name == "preshed":
        from preshed.maps import PreshMap  # type: ignore[import-untyped,import-not-found,unused-ignore]

        table = PreshMap()

        def put(key: int, line: int) -> Any:
            earlier = table[key]
            if earlier is None:
                table[key] = line + 1  # 0 reads back as absent
            return earlier
        return put
    if name == "roaring":
        from pyroaring import BitMap64  # type: ignore[import-untyped,import-not-found,unused-ignore]

        bitmap = BitMap64()

        def add(key: int, line: int) -> Any:
            if key in bitmap:
                return line
            bitmap.add(key)
            return None
        return add
    if name == "loop":
        return lambda key, line: None
    raise SystemExit(f"unknown map {name!r}")


def child(name: str, count: int) -> None:
    """Fill one map with ``count`` numbers; print bytes a recipient and ns an insert."""
    put = _inserter(name)
    before, _ = rss_bytes()
    start = time.perf_counter()
    for line in range(1, count + 1):
        put(national(line), line)
    elapsed = time.perf_counter() - start
    _, peak = rss_bytes()
    print(f"{(peak - before) / count:.1f} {elapsed / count * 1e9:.0f}")


AREAS = (415, 650, 212, 312, 617)


def write_list(count: int, path: str) -> None:
    """A CSV of ``count`` (at most 40M) distinct textable numbers in five area codes, in
    pseudo-random order: the list the plan figures of docs/benchmarks.md were taken on."""
    with open(path, "w") as out:
        out.write("to\n")
        for start in range(0, count, 1_000_000):
            rows = []
            for i in range(start, min(count, start + 1_000_000)):
                area, rest = divmod(i * STEP % 40_000_000, 8_000_000)
                rows.append(f"+1{AREAS[area]}{200 + rest // 10000}{rest % 10000:04d}\n")
            out.write("".join(rows))


def ratios(names: list[str], count: int, rounds: int) -> None:
    """Time each map over ``count`` inserts, ``rounds`` times in turn in this one process,
    and print the fastest round less the key loop's, and that against the dict's: on a
    shared machine the ratio holds where the nanoseconds do not."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name in ["loop", *names]:
            put = _inserter(name)
            start = time.perf_counter()
            for line in range(1, count + 1):
                put(national(line), line)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            del put
    loop = best.pop("loop")
    floor = best.get("dict", 0) - loop
    for name, took in best.items():
        own = (took - loop) / count * 1e9
        against = f", {(took - loop) / floor:.1f}x the dict" if floor > 0 else ""
        print(f"{name}: {own:.0f} ns an insert beyond the key loop{against}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--maps", default="loop,dict,ours,ours-message,preshed,roaring")
    parser.add_argument("--ratios", type=int, metavar="COUNT",
                        help="time the maps in this process over COUNT inserts, best of 3")
    parser.add_argument("--write-list", nargs=2, metavar=("COUNT", "PATH"),
                        help="write a CSV of COUNT distinct numbers for a2p plan --dedupe")
    parser.add_argument("--child", nargs=2, metavar=("MAP", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if args.write_list:
        write_list(int(args.write_list[0]), args.write_list[1])
        return
    if args.ratios:
        ratios([m for m in args.maps.split(",") if m != "loop"], args.ratios, 3)
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    print("| map | " + " | ".join(f"{size:,}: B/recipient, ns/insert" for size in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for name in args.maps.split(","):
        cells = []
        for size in sizes:
            done = subprocess.run([sys.executable, "-m", "benchmarks.dedupe_map", "--child",
                                   name, str(size)], capture_output=True, text=True, check=False)
            if done.returncode:
                cells.append("n/a (" + (done.stderr.strip().splitlines() or ["?"])[-1] + ")")
                continue
            per, ns = done.stdout.split()
            cells.append(f"{per} B, {ns} ns")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
