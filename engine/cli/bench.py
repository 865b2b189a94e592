"""``a2p bench``: the benchmark harness, which lives beside the package in a checkout."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from engine.cli.exits import EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """``python -m benchmarks ARGS`` in the checkout; its exit code is ours."""
    checkout = Path(__file__).resolve().parent.parent.parent
    if not (checkout / "benchmarks" / "harness.py").exists():
        print("a2p: bench needs a source checkout of a2p-batch-engine (benchmarks/ is not "
              "installed with the package). Clone it and run 'a2p bench' there.",
              file=sys.stderr)
        return EXIT_USAGE
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.rest], cwd=checkout)
