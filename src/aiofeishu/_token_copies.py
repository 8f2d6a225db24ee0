"""This process's copies of the tokens a shared store holds.

Each call needs its identity's token. Reading it from Redis on every call would cost a
second round trip per call, and a burst of calls on a cold process would open a
connection each just to read it. So a token read (or written) once is served from here
until the moment Redis expires it, and concurrent readers of a missing one share one read.
A copy another process invalidated is still served here: the server rejects it, the client
invalidates it here too, and the next read finds the newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiofeishu._secrets import Secret

__all__ = ["TokenCopies"]

# (the token, or None, and how many seconds it stays valid) as read from the store
Read = Callable[[], Awaitable[tuple[str | None, float]]]


class TokenCopies:
    """Copies keyed by store key, each with its expiry on ``clock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._copies: dict[str, tuple[Secret, float]] = {}
        self._reads: dict[str, asyncio.Future[str | None]] = {}

    def __repr__(self) -> str:
        return f"TokenCopies(tokens={len(self._copies)})"

    def get(self, key: str) -> str | None:
        copy = self._copies.get(key)
        if copy is None:
            return None
        if self._clock() >= copy[1]:
            del self._copies[key]
            return None
        return copy[0].reveal()

    def put(self, key: str, token: str, ttl: float) -> None:
        self._copies[key] = (Secret(token), self._clock() + ttl)

    def drop(self, key: str, token: str) -> None:
        copy = self._copies.get(key)
        if copy is not None and copy[0].reveal() == token:
            del self._copies[key]

    async def read(self, key: str, read: Read) -> str | None:
        """The copy, else the store's token through ``read`` (shared by concurrent readers)."""
        found = self.get(key)
        if found is not None:
            return found
        pending = self._reads.get(key)
        if pending is None:
            pending = self._reads[key] = asyncio.ensure_future(self._read(key, read))
            pending.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(pending)  # one reader cancelled leaves the others theirs

    def _finished(self, key: str, done: asyncio.Future[str | None]) -> None:
        del self._reads[key]
        if not done.cancelled():
            done.exception()  # retrieved: every reader may have been cancelled meanwhile

    async def _read(self, key: str, read: Read) -> str | None:
        token, ttl = await read()
        if token is not None and ttl > 0:
            self.put(key, token, ttl)
        return token
