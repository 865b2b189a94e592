"""``a2p plan`` of this checkout against another (e.g. main), in fresh processes, alternating,
on the harness's cached 2M inputs: did a change slow the read?

    python -m benchmarks.plan_vs /work/main [--n 2000000] [--repeats 3]

Prints each input's median wall time for both checkouts and the ratio (this / other).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.inputs import input_file

CASES: tuple[tuple[str, str, bool, list[str]], ...] = (
    ("broadcast CSV", "csv", False, ["--text", "Hi"]),
    ("per-message quoted CSV", "csv", True, []),
    ("broadcast plain lines", "lines", False, ["--text", "Hi"]),
    ("per-message JSONL", "jsonl", True, []))


def run(checkout: Path, path: Path, extra: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "engine.cli", "plan", str(path), "--from",
                    "+16505550100", "--json", *extra], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="the checkout to compare with")
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    print(f"{args.n:,} records, median of {args.repeats} alternating runs; this: {here}, "
          f"other: {args.other}")
    print(f"  {'input':26} {'this s':>8} {'other s':>8} {'ratio':>7}")
    for name, fmt, personal, extra in CASES:
        path = input_file(args.n, fmt, personal)
        mine, theirs = [], []
        for _ in range(args.repeats):
            theirs.append(run(args.other, path, extra))
            mine.append(run(here, path, extra))
        a, b = statistics.median(mine), statistics.median(theirs)
        print(f"  {name:26} {a:>8.2f} {b:>8.2f} {a / b:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
