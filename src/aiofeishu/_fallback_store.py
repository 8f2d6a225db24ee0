"""An in-process store: what a Redis store falls back to while Redis is unreachable.

The same reservation rule as the Redis script (``aiofeishu._redis_lua.ADMIT``), on the
local monotonic clock: a call starts no earlier than the last reservation, the cool-down's
end, and, for every window, the reservation ``limit`` places back plus the padded period.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from itertools import islice

from aiofeishu._clock_link import ClockLink
from aiofeishu._reservation import Move, ReservationTicket, admit, longest_move, note_move
from aiofeishu._store import RatePolicy, token_fresh_for

__all__ = ["LocalStore"]


@dataclass
class _Quota:
    # member -> reserved start; insertion order is start order (every start >= the last)
    starts: dict[str, float] = field(default_factory=dict)
    cool_until: float = 0.0
    moves: list[Move] = field(default_factory=list)
    leases: set[str] = field(default_factory=set)
    lease_queue: asyncio.Lock = field(default_factory=asyncio.Lock)


def _from_end(starts: dict[str, float], place: int) -> float:
    """The start ``place`` positions from the last (1: the last)."""
    return next(islice(reversed(starts.values()), place - 1, None))


class LocalStore:
    """:class:`~aiofeishu._store.Store` for one process (no lease expiry: a crash ends it all)."""

    shares_user_tokens = True

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.clock_link = ClockLink()  # its own clock: the link only adds call overhead
        self._quotas: defaultdict[str, _Quota] = defaultdict(_Quota)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __repr__(self) -> str:
        return f"LocalStore(keys={len(self._quotas)})"

    async def admit(self, key: str, policy: RatePolicy) -> ReservationTicket:
        return await admit(self, key, policy, self._clock)

    async def reserve(
        self, key: str, policy: RatePolicy, member: str, lease_id: str, replaces: str | None
    ) -> tuple[float, float] | None:
        quota, now = self._quotas[key], self._clock()
        if policy.concurrency is not None and lease_id not in quota.leases:
            if len(quota.leases) >= policy.concurrency:
                return None
            quota.leases.add(lease_id)
        if replaces is not None:
            quota.starts.pop(replaces, None)
        start = max(now, quota.cool_until)
        if not policy.windows:
            return now, start
        windows = [(limit, policy.padded(period)) for limit, period in policy.windows]
        horizon = now - max(period for _, period in windows)
        starts = quota.starts
        while starts and next(iter(starts.values())) <= horizon:
            del starts[next(iter(starts))]
        if starts:
            start = max(start, _from_end(starts, 1))  # first come, first served
        for limit, period in windows:
            if len(starts) >= limit:
                start = max(start, _from_end(starts, limit) + period)
        starts[member] = start
        return now, start

    async def give_back(self, key: str, member: str | None, lease_id: str | None) -> None:
        quota = self._quotas[key]
        if member is not None:
            quota.starts.pop(member, None)
        if lease_id is not None:
            quota.leases.discard(lease_id)

    def lease_queue(self, key: str) -> asyncio.Lock:
        return self._quotas[key].lease_queue

    async def keep_place(
        self, key: str, policy: RatePolicy, member: str
    ) -> tuple[float, Move | None] | None:
        quota, now = self._quotas[key], self._clock()
        start = quota.starts.get(member)
        if start is None or now - start > longest_move(policy):
            return None
        by = now - start
        if by <= 0:
            return now, None
        # As the Redis script does; insertion order stays start order.
        quota.starts = {m: (s + by if s > start else s) for m, s in quota.starts.items()}
        quota.starts[member] = now
        move = Move(now, start, by)
        note_move(quota.moves, move)
        return now, move

    def moves(self, key: str) -> list[Move]:
        return self._quotas[key].moves

    def cool_until(self, key: str) -> float:
        return self._quotas[key].cool_until

    async def cool_down(self, key: str, seconds: float) -> None:
        quota, now = self._quotas[key], self._clock()
        ends = now + seconds
        if ends <= quota.cool_until:
            return
        quota.cool_until = ends
        # As the Redis script does: what would start inside it reserves again after it.
        inside = [member for member, start in quota.starts.items() if now < start < ends]
        for member in inside:
            del quota.starts[member]

    async def get_token(self, key: str) -> str | None:
        cached = self._tokens.get(key)
        if cached is None or self._clock() >= cached[1]:
            return None
        return cached[0]

    async def put_token(self, key: str, token: str, ttl: float) -> None:
        self._tokens[key] = (token, self._clock() + token_fresh_for(ttl))

    async def invalidate_token(self, key: str, token: str) -> None:
        cached = self._tokens.get(key)
        if cached is not None and cached[0] == token:
            del self._tokens[key]

    def token_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._token_locks[key]

    async def aclose(self) -> None:
        return None
