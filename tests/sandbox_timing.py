"""Rate-limit margins for clients of a threaded sandbox on a busy machine.

The sandbox stamps an arrival when its handler starts, on its own thread. On a busy
2-core host that stamp lags the client's departure by up to ~90 ms in the first window
(fifteen fresh connections accepted at once, the GIL shared with the client): measured
while writing these tests, against the 50 ms ``Sandbox.project_client()`` leaves by
default. Tests that assert server-counted windows give the client this much instead;
a client that shares no window, or ignores one, still overruns by a whole window's worth.
"""

from __future__ import annotations

from aiofeishu.sandbox import Sandbox

STAMP_LAG_ALLOWANCE = 0.2  # seconds added to every window period


def margin_for(sb: Sandbox, rate_class: str = "default") -> float:
    """The ``rate_limit_margin`` that stretches ``rate_class``'s shortest window by the allowance."""
    shortest = min(period for _, period in sb.rate_limits()[rate_class])
    return min(0.9, STAMP_LAG_ALLOWANCE / shortest)
