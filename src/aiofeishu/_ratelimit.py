"""Sliding-window rate limiting: never more than `limit` calls in any `period`.

A leaky bucket (aiolimiter) either bursts past a windowed quota or, tuned so that
burst + rate × period fits the quota, runs at half the allowed speed. The vendor
counts windows, so we keep a log of recent start times per window: a call may start
when every window has seen fewer than `limit` starts in the last `period`. That is
the ideal schedule (60 calls at 15 per second finish in about 3 s) with no overrun.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable

import msgspec

__all__ = ["SlidingWindowLimiter", "Slot"]


class Slot(msgspec.Struct, gc=False, eq=False):
    """One admitted call. ``mark_sent()`` moves its time to when the request actually left.

    Admission and departure differ by connection setup (tens of ms on a cold pool); the
    server counts arrivals, so windows are measured from departure whenever it is known.

    Not tracked by the garbage collector (it refers to no container, so forms no cycle): a
    window's log keeps every slot for a whole period, thousands in a 60-s window, and
    every collection traversed them (measured: 15 % more CPU per call beside a busy
    neighbour). Compared by identity: two slots of one instant are two calls.
    """

    t: float
    _clock: Callable[[], float]
    sent: bool = False

    def mark_sent(self) -> None:
        """The request left now (first call wins; later calls are no-ops)."""
        if not self.sent:
            self.t = max(self.t, self._clock())
            self.sent = True


class _Window:
    __slots__ = ("limit", "period", "slots")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.slots: deque[Slot] = deque()

    def wait_time(self, now: float) -> float:
        slots = self.slots
        horizon = now - self.period
        # A slot still waiting to leave (e.g. for a pooled connection) counts as leaving
        # now: expiring it by its admission time would let it land in the next window.
        while slots and slots[0].sent and slots[0].t <= horizon:
            slots.popleft()
        if len(slots) < self.limit:
            return 0.0
        active = sorted(s.t if s.sent else now for s in slots if not s.sent or s.t > horizon)
        if len(active) < self.limit:
            return 0.0
        return active[len(active) - self.limit] + self.period - now


class SlidingWindowLimiter:
    """Admits calls so that no sliding window of any of its (limit, period) pairs overflows.

    Waiters are served first come, first served. A waiter that is cancelled takes no
    capacity with it: a slot is recorded only when the call is admitted.
    """

    def __init__(
        self,
        windows: Iterable[tuple[int, float]],
        *,
        margin: float = 0.02,
        margin_floor: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The margin stretches each period a little: requests cross the network with
        # jitter, so two departures exactly one period apart could land in one server
        # window. Jitter does not shrink with the period, hence the absolute floor.
        self._windows = [
            _Window(limit, period + max(period * margin, margin_floor)) for limit, period in windows
        ]
        self._clock = clock
        self._lock = asyncio.Lock()
        self._queued = 0  # callers inside acquire()'s locked section or waiting for it

    @property
    def windows(self) -> list[tuple[int, float]]:
        return [(w.limit, w.period) for w in self._windows]

    def try_acquire(self) -> Slot | None:
        """A slot now if nobody waits and every window has room, else None (never waits)."""
        if self._queued:
            return None
        now = self._clock()
        for w in self._windows:
            if w.wait_time(now) > 0:
                return None
        slot = Slot(now, self._clock)  # as _record, in place: this runs on every call
        for w in self._windows:
            w.slots.append(slot)
        return slot

    async def acquire(self) -> Slot:
        # Nobody queued: the locked path below would admit this call at once when every
        # window has room, so do that without the lock (nothing awaits in between).
        slot = self.try_acquire()
        if slot is not None:
            return slot
        self._queued += 1
        try:
            async with self._lock:  # FIFO: asyncio.Lock wakes waiters in arrival order
                while True:
                    now = self._clock()
                    slot = self._admit(now)
                    if slot is not None:
                        return slot
                    await asyncio.sleep(max(w.wait_time(now) for w in self._windows))
        finally:
            self._queued -= 1

    def give_back(self, slot: Slot) -> None:
        """Forget a slot whose request never left (it failed or was cancelled before sending)."""
        if slot.sent:
            return
        for w in self._windows:
            with contextlib.suppress(ValueError):
                w.slots.remove(slot)

    def _admit(self, now: float) -> Slot | None:
        for w in self._windows:
            if w.wait_time(now) > 0:
                return None
        return self._record(now)

    def _record(self, now: float) -> Slot:
        slot = Slot(now, self._clock)
        for w in self._windows:
            w.slots.append(slot)
        return slot
