"""Summaries of key-to-repaint timings, shared by the UI benchmarks."""

from __future__ import annotations

import math
import statistics


def quantiles(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank), in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def ms(values: list[float], with_max: bool = False) -> str:
    median, p95 = quantiles(values)
    text = f"median {median:5.1f} ms, p95 {p95:5.1f} ms"
    return text + (f", max {max(values) * 1000:5.1f} ms" if with_max else "")
