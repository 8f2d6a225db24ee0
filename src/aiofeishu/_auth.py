"""Access tokens: cached per client and identity, fetched once however many calls wait."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["TokenSource", "UserToken"]

logger = logging.getLogger("aiofeishu")

Fetch = Callable[[], Awaitable[tuple[str, float]]]


@dataclass(repr=False)
class UserToken:
    """A user_access_token, optionally with the refresh_token that renews it.

    ``expires_in`` is seconds from now (``expire_time`` of the authen response);
    without it the token is used until the server rejects it.
    """

    token: str
    refresh_token: str | None = None
    expires_in: float | None = None
    created_at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"UserToken(token='***', refresh_token={'***' if self.refresh_token else None})"


class TokenSource:
    """One cached token. ``get()`` returns it, fetching when absent or near expiry.

    Concurrent callers on a cold cache share a single fetch (the lock is taken only
    when a fetch may be needed). ``invalidate(token)`` drops the token the server
    rejected, unless a newer one has already replaced it.
    """

    def __init__(
        self,
        identity: str,
        fetch: Fetch,
        *,
        initial: tuple[str, float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self.last_token: str | None = None  # kept after invalidation: a refresh may need it
        self._refresh_at = 0.0
        self.fetches = 0
        if initial is not None:
            token, ttl = initial
            self._store(token, float("inf") if ttl is None else ttl)

    def __repr__(self) -> str:
        return f"TokenSource(identity={self.identity!r}, cached={self._token is not None})"

    def _store(self, token: str, ttl: float) -> None:
        self._token = self.last_token = token
        # Renew a little before expiry (10 %, at most five minutes) so no call carries a dying token.
        self._refresh_at = self._clock() + ttl - min(300.0, ttl / 10)

    def _valid(self) -> str | None:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    async def get(self) -> str:
        token = self._valid()
        if token is not None:
            return token
        async with self._lock:
            token = self._valid()
            if token is not None:
                return token
            self.fetches += 1
            token, ttl = await self._fetch()
            self._store(token, ttl)
            logger.debug("token fetched for %s, valid %.0fs", self.identity, ttl)
            return token

    def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None
            logger.debug("token dropped for %s after the server rejected it", self.identity)
