"""``a2p bench``: the benchmark harness, which lives beside the package in a checkout.

An installed wheel has no benchmarks/ package: there the command is left out of ``a2p --help``
and, typed anyway, says at once how to get the harness (a clone of the repository)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.exits import EXIT_USAGE

# What `a2p bench` says where it cannot run.
NO_HARNESS = ("a2p: bench runs the benchmark harness of a source checkout; an installed "
              "a2p-batch-engine has no benchmarks/. Clone the repository, then in the clone: "
              "pip install -e '.[bench]' and run 'a2p bench quick' there.")


def harness_checkout() -> Path | None:
    """The source checkout this package runs from, if it has the benchmark harness."""
    checkout = Path(__file__).resolve().parent.parent.parent
    return checkout if (checkout / "benchmarks" / "harness.py").is_file() else None


def run(args: argparse.Namespace) -> int:
    """``python -m benchmarks ARGS`` in the checkout; its exit code is ours."""
    checkout = harness_checkout()
    if checkout is None:
        print(NO_HARNESS, file=sys.stderr)
        return EXIT_USAGE
    import subprocess

    return subprocess.call([sys.executable, "-m", "benchmarks", *args.rest], cwd=checkout)
