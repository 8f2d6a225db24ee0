"""An event loop on virtual time: sleeps take no wall-clock time and timing is exact.

When no callback is ready, real time would pass until the next timer; this loop jumps its
clock straight there instead. A test of rate windows then measures the schedule itself —
identical on an idle laptop and on a loaded CI box — not the machine's scheduling jitter.
Real I/O still works (the selector is polled without blocking), but time does not pass
while waiting for it: use it with fakes at the transport seam, not with sockets.

    def test_x() -> None:
        run_virtual(scenario())  # scenario() may read loop.time() / sleep freely
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("virtual time: every task waits and no timer is set (deadlock)")
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """``time()`` starts at 0 and advances only when every task waits for a timer."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
