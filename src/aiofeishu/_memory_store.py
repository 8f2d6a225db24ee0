"""The default store: rate windows, cool-downs, leases and tokens in this process.

One MemoryStore serves every client on an event loop (:func:`default_store`), so two
clients acting for one plugin share its quota and its token instead of drawing 429s
from each other. Its asyncio primitives belong to that loop; a store per loop keeps
clients of different loops (threads, or one test after another) apart.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiofeishu._ratelimit import SlidingWindowLimiter, Slot
from aiofeishu._secrets import Secret
from aiofeishu._store import RatePolicy, token_fresh_for

__all__ = ["MemoryStore", "MemoryTicket", "default_store"]


class MemoryTicket:
    """An admission by the in-process store (see :class:`aiofeishu._store.Ticket`)."""

    __slots__ = ("_departed", "_lease", "_limiter", "_slot")

    def __init__(
        self,
        limiter: SlidingWindowLimiter | None,
        slot: Slot | None,
        lease: asyncio.Semaphore | None,
    ) -> None:
        self._limiter = limiter
        self._slot = slot
        self._lease = lease
        self._departed = False

    async def depart(self) -> None:
        if not self._departed:
            self._departed = True
            if self._slot is not None:
                self._slot.mark_sent()
            return
        if self._limiter is not None:  # sent once already: this re-send needs a slot too
            (await self._limiter.acquire()).mark_sent()

    async def release(self) -> None:
        self.release_now()

    def release_now(self) -> None:
        """:meth:`release` without awaiting (nothing here needs I/O)."""
        if not self._departed and self._limiter is not None and self._slot is not None:
            self._limiter.give_back(self._slot)
        if self._lease is not None:
            self._lease.release()
            self._lease = None


class MemoryStore:
    """:class:`aiofeishu._store.Store` in this process. Cheap: admission takes no lock
    while the windows have room and nobody waits."""

    shares_user_tokens = True  # nothing leaves the process

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Keyed by what shapes a limiter, as a plain tuple: hashing a RatePolicy is a Python
        # call. Clients pass the same policy object on every call, so each rate key also
        # remembers the last policy seen and its limiter: no tuple to build, hash, compare.
        self._limiters: dict[tuple[object, ...], SlidingWindowLimiter] = {}
        self._last_policy: dict[str, tuple[RatePolicy, SlidingWindowLimiter]] = {}
        self._leases: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._cool_until: dict[str, float] = {}
        self._tokens: dict[str, tuple[Secret, float]] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._limiters)}, tokens={len(self._tokens)})"

    # -- rate windows ----------------------------------------------------------
    def _limiter(self, key: str, policy: RatePolicy) -> SlidingWindowLimiter | None:
        last = self._last_policy.get(key)
        if last is not None and last[0] is policy:
            return last[1]
        if not policy.windows:
            return None
        shape = (key, policy.windows, policy.margin, policy.margin_floor)
        limiter = self._limiters.get(shape)
        if limiter is None:
            limiter = self._limiters[shape] = SlidingWindowLimiter(
                policy.windows,
                margin=policy.margin,
                margin_floor=policy.margin_floor,
                clock=self._clock,
            )
        self._last_policy[key] = (policy, limiter)
        return limiter

    def admit_now(self, key: str, policy: RatePolicy) -> MemoryTicket | None:
        """The ticket at once when the call may leave now (no lease to wait for, no
        cool-down, room in every window), else None: then :meth:`admit` decides."""
        if policy.concurrency is not None or key in self._cool_until:
            return None
        limiter = self._limiter(key, policy)
        if limiter is None:
            return MemoryTicket(None, None, None)
        slot = limiter.try_acquire()
        return None if slot is None else MemoryTicket(limiter, slot, None)

    async def admit(self, key: str, policy: RatePolicy) -> MemoryTicket:
        ticket = self.admit_now(key, policy)  # the common case: room now, nothing to await
        if ticket is not None:
            return ticket
        lease = None
        if policy.concurrency is not None:
            lease = self._leases.get((key, policy.concurrency))
            if lease is None:
                lease = self._leases[(key, policy.concurrency)] = asyncio.Semaphore(
                    policy.concurrency
                )
            await lease.acquire()
        try:
            limiter = self._limiter(key, policy)
            slot = await self._slot(key, limiter)
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        return MemoryTicket(limiter, slot, lease)

    async def _slot(self, key: str, limiter: SlidingWindowLimiter | None) -> Slot | None:
        while True:
            wait = self._cool_until.get(key, 0.0) - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if limiter is None:
                return None
            slot = await limiter.acquire()
            if self._cool_until.get(key, 0.0) <= self._clock():
                return slot
            limiter.give_back(slot)  # a cool-down began while this call waited

    async def cool_down(self, key: str, seconds: float) -> None:
        until = self._clock() + max(0.0, seconds)
        if until > self._cool_until.get(key, 0.0):
            self._cool_until[key] = until
            asyncio.get_running_loop().call_at(
                asyncio.get_running_loop().time() + seconds, self._cool_down_over, key
            )

    def _cool_down_over(self, key: str) -> None:
        if self._cool_until.get(key, 0.0) <= self._clock():
            self._cool_until.pop(key, None)  # keeps the admission fast path open

    # -- tokens ----------------------------------------------------------------
    def token_now(self, key: str) -> str | None:
        """:meth:`get_token` without awaiting (nothing here needs I/O)."""
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached[1]:
            return cached[0].reveal()
        return None

    async def get_token(self, key: str) -> str | None:
        return self.token_now(key)

    async def put_token(self, key: str, token: str, ttl: float) -> None:
        refresh_at = self._clock() + token_fresh_for(ttl)
        self._tokens[key] = (Secret(token), refresh_at)

    async def invalidate_token(self, key: str, token: str) -> None:
        cached = self._tokens.get(key)
        if cached is not None and cached[0].reveal() == token:
            del self._tokens[key]

    @asynccontextmanager
    async def token_lock(self, key: str) -> AsyncIterator[None]:
        lock = self._token_locks.get(key)
        if lock is None:
            lock = self._token_locks[key] = asyncio.Lock()
        async with lock:
            yield

    async def aclose(self) -> None:
        return None


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MemoryStore] = (
    weakref.WeakKeyDictionary()
)


def default_store() -> MemoryStore:
    """The running loop's shared MemoryStore (made on first use)."""
    loop = asyncio.get_running_loop()
    store = _per_loop.get(loop)
    if store is None:
        store = _per_loop[loop] = MemoryStore()
    return store
