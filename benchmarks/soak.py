"""The seeded soak over hundreds of seeds (tests/chaos/soak.py): random fault combinations,
random SIGKILLs and resumes, the fault healed, one last ``--resume``, judged from the
simulator's ledger.

    python -m benchmarks soak --seeds 200 [--start N] [--jobs 2] [--out DIR]

Prints a row per seed as it finishes, a table and a summary; writes soak.json (every seed's
record and the summary) under benchmarks/results/. Exit 1 when any seed failed, with the
command that replays it.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from tests.chaos.soak import SoakOutcome, describe_summary, soak_scenario, soak_table, summary

HERE = Path(__file__).parent


def one(seed: int, args: argparse.Namespace) -> SoakOutcome:
    """One seed in a directory of its own; kept under ``--keep`` when it failed (its list,
    journal, report, events, stderr and outcomes are the evidence)."""
    with tempfile.TemporaryDirectory(prefix=f"soak-{seed}-") as tmp:
        result = soak_scenario(seed, Path(tmp), args.min_recipients, args.max_recipients,
                               args.max_kills)
        if result.failed:
            kept = args.keep / f"seed-{seed}"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(tmp, kept)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__)
    parser.add_argument("--seeds", type=int, default=200, help="how many seeds (default 200)")
    parser.add_argument("--start", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="seeds run at once, each with its own simulator (default 2)")
    parser.add_argument("--min-recipients", type=int, default=500)
    parser.add_argument("--max-recipients", type=int, default=3000)
    parser.add_argument("--max-kills", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="where soak.json goes (default benchmarks/results)")
    parser.add_argument("--keep", type=Path,
                        default=Path(tempfile.gettempdir()) / "a2p-soak-failed",
                        help="where a failed seed's files are kept (default: %(default)s)")
    args = parser.parse_args(argv)
    seeds = range(args.start, args.start + args.seeds)
    started = time.perf_counter()
    results: list[SoakOutcome] = []
    print(soak_table([]), flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(lambda s: one(s, args), seeds):
            results.append(result)
            print(soak_table([result]).splitlines()[1], flush=True)
            for problem in result.outcome.problems:
                print(f"      seed {result.outcome.seed}: {problem}", flush=True)
    figures = summary(results, time.perf_counter() - started)
    print("\n" + soak_table(results) + "\n\n" + describe_summary(figures))
    args.out.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "command": "python -m benchmarks soak " + " ".join(argv if argv is not None
                                                           else sys.argv[2:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "summary": figures, "seeds": [r.record() for r in results]}
    path = args.out / "soak.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print(f"written: {path}")
    failed = [r for r in results if r.failed]
    for r in failed:
        print(f"FAILED seed {r.outcome.seed} ({', '.join(r.modes)}): files in "
              f"{args.keep / f'seed-{r.outcome.seed}'}; replay with\n  {r.replay()}",
              file=sys.stderr)
    return 1 if failed else 0
