"""A reading floor in a process of its own, started the way ``a2p plan`` is, so the engine and
its floor both pay for a fresh interpreter.

    python -m benchmarks.floor_child csv|jsonl PATH

csv: one ``csv.reader`` pass over the file; jsonl: one ``orjson.loads`` per line.
"""

from __future__ import annotations

import csv
import sys
from collections import deque


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "csv":
        with open(path, newline="", encoding="utf-8") as handle:
            deque(csv.reader(handle), maxlen=0)
    else:
        import orjson

        with open(path, "rb") as handle:
            deque(map(orjson.loads, handle), maxlen=0)


if __name__ == "__main__":
    main()
