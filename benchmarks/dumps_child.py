"""The dumps floor of a per-message CSV's own rows, in a process of its own.

    python -m benchmarks.dumps_child PATH REPEATS

Reads the ``to,text`` rows of PATH (not timed) in slices of at most 2,000,000 and times one
``orjson.dumps`` of each slice's body (``{"from", "messages": [{"to": [to], "text": text}]}``),
as the engine makes one body per 50 MB; one body of ten million dicts would not fit beside the
rest. Prints one JSON line: {"seconds": [per repeat, the sum over the slices], "peak_rss"}.
"""

from __future__ import annotations

import csv
import gc
import itertools
import sys
import time
from typing import Any

import orjson

from benchmarks.procstat import rss_bytes

SENDER = "+16505550100"
SLICE = 2_000_000


def main() -> None:
    path, repeats = sys.argv[1], int(sys.argv[2])
    seconds = [0.0] * repeats
    with open(path, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)  # the header
        while True:
            body: dict[str, Any] = {"from": SENDER, "messages": [
                {"to": [to], "text": text} for to, text in itertools.islice(rows, SLICE)]}
            if not body["messages"]:
                break
            for repeat in range(repeats):
                gc.collect()
                started = time.perf_counter()
                orjson.dumps(body)
                seconds[repeat] += time.perf_counter() - started
            del body
    print(orjson.dumps({"seconds": seconds, "peak_rss": rss_bytes()[1]}).decode())


if __name__ == "__main__":
    main()
