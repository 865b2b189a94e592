"""Run ``a2p plan`` with the arguments given (``--json`` among them or not: the table is the
plan people read, ``--json`` the one that lists every rejection) in this process, and report
its peak RSS on stderr (for the parent)."""

from __future__ import annotations

import contextlib
import os
import sys

from benchmarks.procstat import rss_bytes
from engine.cli.commands import main

if __name__ == "__main__":
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        status = main(["plan", *sys.argv[1:]])
    # VmHWM, not ru_maxrss: the latter counts the parent's memory from before exec.
    print(f"peak_rss_bytes={rss_bytes()[1]} status={status}", file=sys.stderr)
