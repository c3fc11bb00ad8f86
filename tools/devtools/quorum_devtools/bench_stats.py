"""Small statistics for the benchmark: percentiles, medians of repetitions, the machine.

Kept free of I/O beyond /proc reads so every section of the bench summarizes the same way.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/p99/max in milliseconds, and how many samples they rest on."""
    millis = [s * 1000.0 for s in seconds]
    return {
        "count": len(millis),
        "p50_ms": percentile(millis, 0.50),
        "p95_ms": percentile(millis, 0.95),
        "p99_ms": percentile(millis, 0.99),
        "max_ms": max(millis) if millis else math.nan,
        "mean_ms": statistics.fmean(millis) if millis else math.nan,
    }


def median(values: Iterable[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def median_of(repetitions: Sequence[dict[str, Any]], key: str) -> float:
    return median(float(r[key]) for r in repetitions if key in r)


def median_figures(figures: Sequence[dict[str, float]]) -> dict[str, float]:
    """Key by key, the median over repetitions of a dict of figures."""
    keys = dict.fromkeys(key for f in figures for key in f)
    return {key: median(float(f[key]) for f in figures if key in f) for key in keys}


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the kernel's high-water mark of resident memory) in MiB; None if gone."""
    return _status_field_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float | None:
    return _status_field_mb(pid, "VmRSS")


def _status_field_mb(pid: int, name: str) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024.0  # the kernel reports kB
    return None


def loadavg() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have spent busy since boot (/proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def calibration_ns_per_iteration(iterations: int = 2_000_000) -> float:
    """CPU time of a trivial Python loop, per iteration.

    Figures from two machines (or one machine under different neighbours) are only
    comparable with a yardstick: this one is ≈25-40 ns on a current desktop core.
    """
    started = time.process_time()
    total = 0
    for i in range(iterations):
        total += i
    return (time.process_time() - started) / iterations * 1e9


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_mb"] = int(line.split()[1]) // 1024
                break
    except OSError:
        pass
    return info


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` of this machine, when /proc lets us see it.

    For servers named by the environment (not started by the bench) the broker's and
    mongod's CPU is still counted: /proc/net/tcp{,6} give the listening socket's inode,
    and its owner is the process with a descriptor linked to socket:[inode].
    """
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()  # sl, local address:port (hex), remote, state, ..., inode
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return None
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in sockets for fd in fds.iterdir()):
                return int(fds.parent.name)
        except OSError:
            continue
    return None
