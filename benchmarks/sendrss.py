"""Peak RSS of ``a2p send`` at the bad end, alone: the engine part of badend.py's ``send_bad``
(the simulator in its own process, ``benchmarks.send_child``, VmHWM of the engine's process)
without its wire floor, for checking memory quickly.

    python -m benchmarks.sendrss bad30|bad95 N [N ...]

Prints one line per size: kind, rows, wall seconds, peak RSS in MiB, and the largest current
RSS sampled every 0.1 s.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.badend import KINDS
from benchmarks.harness import TEXT, _send_sampled
from benchmarks.inputs import bad_input_file
from benchmarks.procstat import MIB
from benchmarks.simproc import FAST_CONFIG, SimulatorProcess


def main(argv: list[str]) -> None:
    kind, sizes = argv[0], [int(n) for n in argv[1:]]
    if kind not in KINDS or not sizes:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory(prefix="a2p-sendrss-") as name:
        work = Path(name)
        config = work / "sim-bad.toml"
        config.write_text(FAST_CONFIG)
        for n in sizes:
            path = bad_input_file(n, kind)
            sim = SimulatorProcess(config)
            try:
                wall, peak, trace = _send_sampled(sim, path, work, TEXT)
            finally:
                sim.stop()
                for leftover in work.glob("report-*"):
                    leftover.unlink()
            sampled = max((rss for _, rss in trace), default=0)
            print(f"{kind} {n:,}: {wall:.1f} s, peak RSS {peak / MIB:,.0f} MiB "
                  f"(largest sample {sampled / MIB:,.0f} MiB)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
