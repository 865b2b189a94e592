"""``a2p plan`` as plan_child runs it, with --dedupe's map replaced by one that remembers
nothing: the record-by-record read alone, the floor the map's memory and time are measured
against (docs/benchmarks.md, "De-duplication").

    python -m benchmarks.plan_stubbed_child FILE --from +16505550100 --text hi --dedupe
"""

from __future__ import annotations

import contextlib
import os
import sys

from benchmarks.procstat import rss_bytes
from engine.reading import records


class _Forgets:
    def first(self, *args: int) -> None:
        return None


if __name__ == "__main__":
    records._seen = lambda options: _Forgets() if options.dedupe else None  # type: ignore[assignment,return-value]
    from engine.cli.commands import main

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        status = main(["plan", *sys.argv[1:], "--json"])
    print(f"peak_rss_bytes={rss_bytes()[1]} status={status}", file=sys.stderr)
