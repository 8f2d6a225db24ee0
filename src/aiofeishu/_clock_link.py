"""Where a server's clock stands against the local one, learnt from requests' own timing.

A reservation is made on the server's clock; the caller sleeps on its own. Each reply says
the server's time, read somewhere between sending and receiving, which bounds the offset
(local minus server) from both sides; intersecting every reply's bounds narrows them to
about the fastest round trip seen. So a cold connection's slow first reply widens nothing
for long, and host clock offsets cancel out: only the local clock's *rate* matters.
"""

from __future__ import annotations

import math

__all__ = ["ClockLink"]

# How far the two clocks may drift apart per second (NTP slews at most 500 ppm): old
# bounds are widened by that much so a drift never makes them lie.
DRIFT = 0.0005


class ClockLink:
    """Bounds of ``local - server`` from every (sent, received, server time) observed."""

    __slots__ = ("_high", "_low", "_seen_at")

    def __init__(self) -> None:
        self._low = -math.inf
        self._high = math.inf
        self._seen_at = 0.0

    def observe(self, sent: float, received: float, server_now: float) -> None:
        widen = DRIFT * max(0.0, received - self._seen_at)
        low = max(self._low - widen, sent - server_now)
        high = min(self._high + widen, received - server_now)
        if low > high:  # a clock was stepped: start over from this reply alone
            low, high = sent - server_now, received - server_now
        self._low, self._high, self._seen_at = low, high, received

    def not_before(self, server_time: float) -> float:
        """The latest local time ``server_time`` can be: sleeping until it never leaves early."""
        return server_time + self._high

    def latest_server_time(self, local_time: float) -> float:
        """The latest server time ``local_time`` can be (infinite before any reply)."""
        return local_time - self._low

    def not_after(self, server_time: float) -> float:
        """The earliest local time ``server_time`` can be: lateness counted from it is never
        underestimated."""
        return server_time + self._low
