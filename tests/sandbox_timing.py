"""Rate-limit margins for clients of a threaded sandbox on a busy machine.

The sandbox stamps an arrival when its handler starts, on its own thread. On a busy
2-core host that stamp lags the client's departure: by up to ~90 ms in a cold first
window (fifteen fresh connections accepted at once, the GIL shared with the client), and
once by over 200 ms (a soak run at load average 5 drew 16 arrivals in a 0.25 s window the
client had spread over 0.45 s) — measured while writing these tests, against the 50 ms
``Sandbox.project_client()`` leaves by default. A stall stamps everything queued behind
it at once, so tests asserting server-counted windows give the client this much more;
a client that shares no window, or skips one, still overruns by a whole window's worth.
"""

from __future__ import annotations

from aiofeishu.sandbox import Sandbox

STAMP_LAG_ALLOWANCE = 0.3  # seconds added to every window period


def margin_for(sb: Sandbox, rate_class: str = "default") -> float:
    """The ``rate_limit_margin`` that stretches ``rate_class``'s shortest window by the allowance."""
    shortest = min(period for _, period in sb.rate_limits()[rate_class])
    margin = STAMP_LAG_ALLOWANCE / shortest
    assert margin < 1, "windows this short cannot absorb the stamp lag: use a smaller time_scale"
    return margin
