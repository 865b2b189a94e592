"""The harness's plots: throughput against input size per approach, and the sender's memory
over time (matplotlib, the ``bench`` extra; none without it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.procstat import MIB


def plots(results: dict[str, Any], trace: list[tuple[float, int]], out: Path) -> list[Path]:
    """Throughput against input size per approach, and the sender's memory over time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    fig, ax = plt.subplots(figsize=(8, 5))
    series: dict[str, list[tuple[int, float]]] = {}
    for f in results["figures"]:
        if f["measure"] in ("chunking", "plan"):
            label = f"{f['measure']}: {f['approach']} ({f['shape']})"
            series.setdefault(label, []).append((f["size"], f["perSecond"]))
    for label, points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="recipients", ylabel="recipients per second",
           title="Throughput against input size")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    made.append(out / "throughput.png")
    fig.savefig(made[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    if trace:
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot([t for t, _ in trace], [r / MIB for _, r in trace])
        ax.set(xlabel="seconds", ylabel="RSS (MiB)",
               title=f"a2p send memory over time, {results['e2eSize']:,} recipients")
        ax.grid(True, alpha=0.3)
        made.append(out / "memory.png")
        fig.savefig(made[-1], dpi=110, bbox_inches="tight")
        plt.close(fig)
    return made
