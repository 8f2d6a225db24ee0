"""The ideal schedule of a windowed quota: what a perfect client would achieve.

The benchmarks measure the SDK against it, and the tests assert the SDK's limiter meets
it exactly on virtual time (tests may import benchmarks; benchmarks never import tests).
"""

from __future__ import annotations

from collections.abc import Sequence

Windows = Sequence[tuple[int, float]]


def ideal_starts(calls: int, windows: Windows) -> list[float]:
    """Greedy start times from 0: each call as early as no (limit, period) window overruns."""
    starts: list[float] = []
    for _ in range(calls):
        t = 0.0
        for limit, period in windows:
            if len(starts) >= limit:
                t = max(t, starts[-limit] + period)
        starts.append(t)
    return starts


def ideal_schedule(calls: int, windows: Windows) -> float:
    """When the last of ``calls`` may start at the earliest if none may overrun any window."""
    return ideal_starts(calls, windows)[-1]
