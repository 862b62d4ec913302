"""Helpers the benchmarks share: progress lines on stderr and latency percentiles.

The scripts run as ``python bench/<name>.py``, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import math
import sys
import time

__all__ = ["log", "pct", "summary"]


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
