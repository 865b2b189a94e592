"""Run ``a2p send`` in this process and report its peak RSS on stderr (for the parent)."""

from __future__ import annotations

import sys

from benchmarks.procstat import rss_bytes
from engine.cli.commands import main

if __name__ == "__main__":
    status = main(["send", *sys.argv[1:]])
    # VmHWM, not ru_maxrss: the latter counts the parent's memory from before exec.
    print(f"peak_rss_bytes={rss_bytes()[1]} status={status}", file=sys.stderr)
