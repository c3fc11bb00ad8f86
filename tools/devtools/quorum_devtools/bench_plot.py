"""The latency plot: p50 and p99 of both latency paths against the offered load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quorum_devtools.bench_report import ENDORSED, GATE, LATENCY_TARGET_MS


def plot(results: dict[str, Any], path: Path) -> bool:
    """Latency percentiles against offered load; False when there is nothing to plot."""
    paths = {k: results.get("latency", {}).get(k, {}) for k in (ENDORSED, GATE)}
    if not any(paths.values()):
        return False
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a build machine
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    for kind, name, line in ((ENDORSED, "endorsed", "-"), (GATE, "gate opened", ":")):
        loads = paths[kind]
        offered = sorted(loads, key=float)
        x = [float(o) for o in offered]
        for key, label, marker in (("p50_ms", "p50", "o"), ("p99_ms", "p99", "^")):
            axes.plot(x, [loads[o][key] for o in offered], marker + line, label=f"{name} {label}")
    axes.axhline(LATENCY_TARGET_MS, color="grey", linestyle="--", label="p99 target")
    reference = results.get("reference", {})
    if reference.get("available") and reference["e2e_ms"].get("p99") is not None:
        axes.plot(
            [reference["rate"]],
            [reference["e2e_ms"]["p99"]],
            "kx",
            markersize=9,
            label="reference pipeline p99",
        )
    axes.set_yscale("log")
    axes.set_xlabel("offered load (endorsements/s)")
    axes.set_ylabel("EndorseIdea sent → its event on WatchEvents (ms)")
    axes.set_title("Quorum end-to-end latency vs offered load")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
