"""Counting a sliding window the way a strict server does."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["max_in_window"]


def max_in_window(times: Iterable[float], period: float) -> int:
    """The most of ``times`` inside any half-open window ``(t - period, t]``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
