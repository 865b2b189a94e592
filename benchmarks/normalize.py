"""What checking numbers costs per number, against the floor the reader's bulk path pays today.

    python -m benchmarks.normalize [--n 200000] [--repeats 5]

Floor: ``all(map(E164.fullmatch, tos))``, the check the bulk path ran on every block before
the North American check (#13) replaced it with ``check_all``.
Measured in the same run: ``check_all`` (the
North American check plus normalisation, built to replace the floor) on clean E.164 blocks and
on blocks of national formats; ``check`` per number (the careful path); ``strict_checker``
(libphonenumber) per number. The last lines set each swap's added cost against reading a
plain-lines file through ``read_lines`` per record: the share of the bulk path's time it would
add (the 10 % budget of issue #13).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from benchmarks.numbers import number
from engine.reading import ReadOptions, phone, read_lines

BLOCK = 10_000  # the reader's bulk path checks numbers a block of lines at a time
FORMATS = ("({}) {}-{}", "{}.{}.{}", "{}{}{}", "1-{}-{}-{}", "+1 {} {} {}", "1{}{}{}")


def national(numbers: list[str]) -> list[str]:
    out = []
    for i, e164 in enumerate(numbers):
        d = e164[2:]
        out.append(FORMATS[i % len(FORMATS)].format(d[:3], d[3:6], d[6:]))
    return out


def per_number(run: Callable[[], object], n: int, repeats: int) -> float:
    """Median nanoseconds per number over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / n * 1e9


def blocks(numbers: list[str]) -> list[list[str]]:
    return [numbers[i:i + BLOCK] for i in range(0, len(numbers), BLOCK)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, repeats = args.n, args.repeats
    clean = [number(i) for i in range(n)]
    mixed = national(clean)
    clean_blocks, mixed_blocks = blocks(clean), blocks(mixed)
    strict = phone.strict_checker("US")
    rows = {
        "floor: all(map(E164.fullmatch)) on E.164": per_number(
            lambda: [all(map(phone.E164.fullmatch, b)) for b in clean_blocks], n, repeats),
        "check_all on E.164 blocks": per_number(
            lambda: [phone.check_all(b) for b in clean_blocks], n, repeats),
        "check_all on national-format blocks": per_number(
            lambda: [phone.check_all(b) for b in mixed_blocks], n, repeats),
        "check per number (careful path), national": per_number(
            lambda: [phone.check(r) for r in mixed], n, repeats),
        "normalize per number (today's careful path)": per_number(
            lambda: [phone.normalize(r) for r in clean], n, repeats),
        "strict_checker (libphonenumber) per number": per_number(
            lambda: [strict(r) for r in mixed[: n // 10]], n // 10, max(1, repeats // 2)),
    }
    data = "".join(f"{c}\n" for c in clean).encode()
    options = ReadOptions(source="bench.txt", format="lines", batch_text="Hi")
    read = per_number(lambda: sum(map(len, read_lines(io.BytesIO(data), options, print))),
                      n, repeats)
    floor = rows["floor: all(map(E164.fullmatch)) on E.164"]
    print(f"{n:,} numbers, blocks of {BLOCK:,}, median of {repeats} runs")
    print(f"  {'':46} {'ns/number':>10} {'x floor':>8}")
    for name, ns in rows.items():
        print(f"  {name:46} {ns:>10.1f} {ns / floor:>8.2f}")
    print(f"  {'read_lines, plain lines, per record':46} {read:>10.1f} {read / floor:>8.2f}")
    for name in ("check_all on E.164 blocks", "check_all on national-format blocks"):
        added = rows[name] - floor
        print(f"  swapping the floor for {name}: {added:+.1f} ns per record, "
              f"{added / read:+.1%} of the bulk read")


if __name__ == "__main__":
    main()
