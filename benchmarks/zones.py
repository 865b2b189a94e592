"""How long placing recipients takes (engine/schedule/zones.py): a million random textable
numbers in the shipped table's area codes, through one Placer with libphonenumber's zones and
one with the table alone, first pass (caches filling) and second.

    python -m benchmarks.zones [--numbers 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from engine.schedule.zones import Placer, area_code_table, libphonenumber_zones


def numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    areas = sorted(area_code_table().codes)
    return [f"+1{rng.choice(areas)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            for _ in range(count)]


def timed(place: Placer, batch: list[str]) -> float:
    start = time.perf_counter()
    for number in batch:
        place(number)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.zones")
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    batch = numbers(args.numbers, args.seed)
    for name, lookup in (("libphonenumber", libphonenumber_zones()), ("table", None)):
        place = Placer(lookup)
        first, second = timed(place, batch), timed(place, batch)
        print(f"{name:>14}: {args.numbers:,} numbers, first pass {first:.2f} s "
              f"({first / args.numbers * 1e9:.0f} ns each), second {second:.2f} s "
              f"({second / args.numbers * 1e9:.0f} ns each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
