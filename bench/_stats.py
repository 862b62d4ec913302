"""Helpers the benchmarks share: progress lines on stderr and latency percentiles.

The scripts run as ``python bench/<name>.py``, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["log", "machine", "pct", "peak_rss_mb", "summary"]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0-100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """p50/p95/p99/max/mean of ``values`` (seconds by default, reported in ms)."""
    return {
        "p50": pct(values, 50) * scale,
        "p95": pct(values, 95) * scale,
        "p99": pct(values, 99) * scale,
        "max": max(values) * scale if values else math.nan,
        "mean": sum(values) / len(values) * scale if values else math.nan,
        "n": len(values),
    }


def machine(**extra: Any) -> dict[str, Any]:
    """What a report says of the machine and the run, plus ``extra`` figures."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tantivy": importlib.metadata.version("tantivy"),
        **extra,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan
