"""Access tokens: cached in the store per identity, fetched once however many calls wait."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiofeishu._memory_store import MemoryStore
from aiofeishu._secrets import Secret
from aiofeishu._store import Store

__all__ = ["TokenProvider", "UserToken"]

logger = logging.getLogger("aiofeishu")

Fetch = Callable[[], Awaitable[tuple[Secret, float]]]


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


class TokenProvider:
    """One identity's token. ``get()`` returns it from the store, fetching when absent.

    Concurrent callers on a cold cache share a single fetch (under the store's token
    lock, so with a shared store one fetch serves every process). ``invalidate(token)``
    drops the token the server rejected, unless a newer one has already replaced it.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        key: str,
        identity: str,
        fetch: Fetch,
        *,
        initial: tuple[str, float | None] | None = None,
    ) -> None:
        self._store = store  # resolved per call: the default store belongs to the running loop
        self.key = key
        self.identity = identity
        self._fetch = fetch
        self._initial: tuple[Secret, float] | None = None
        if initial is not None:
            token, ttl = initial
            self._initial = (Secret(token), float("inf") if ttl is None else ttl)
        self.last_token: Secret | None = self._initial[0] if self._initial else None
        self.retired: deque[Secret] = deque(maxlen=4)  # replaced tokens, still masked in errors
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenProvider(identity={self.identity!r})"

    def now(self) -> Secret | None:
        """The token without awaiting, when the in-process store can tell at once that the
        one in hand is still fresh; else None: await :meth:`get`."""
        store = self._store()
        if self._initial is not None or type(store) is not MemoryStore:
            return None  # (a wrapper around the store must see every read)
        cached = store.token_now(self.key)
        last = self.last_token
        if cached is not None and last is not None and last.reveal() == cached:
            return last
        return None

    async def get(self) -> Secret:
        store = self._store()
        cached = await store.get_token(self.key)
        if self._initial is not None:
            token, ttl = self._initial
            self._initial = None
            if cached is None:  # else a shared store already holds a newer one: use that
                await store.put_token(self.key, token.reveal(), ttl)
                return token
        if cached is not None:
            last = self.last_token
            if last is not None and last.reveal() == cached:  # the common case, in place
                return last
            return self._remember(cached)
        async with store.token_lock(self.key):
            cached = await store.get_token(self.key)
            if cached is not None:
                return self._remember(cached)
            self.fetches += 1
            token, ttl = await self._fetch()
            await store.put_token(self.key, token.reveal(), ttl)
            logger.debug("token fetched for %s, valid %.0fs", self.identity, ttl)
            self._replace(token)
            return token

    def _remember(self, value: str) -> Secret:
        if self.last_token is None or self.last_token.reveal() != value:
            self._replace(Secret(value))
        assert self.last_token is not None
        return self.last_token

    def _replace(self, token: Secret) -> None:
        if self.last_token is not None:
            self.retired.append(self.last_token)
        self.last_token = token

    async def invalidate(self, token: Secret) -> None:
        await self._store().invalidate_token(self.key, token.reveal())
        logger.debug("token dropped for %s after the server rejected it", self.identity)
