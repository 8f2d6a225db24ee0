"""Where state shared per credential lives: rate windows, cool-downs, concurrency leases, tokens.

The vendor limits calls per token and endpoint, and hands every caller of one plugin the
same token while it is valid. So that state belongs to the credential, not to a client
object: every client (and, with a shared store, every process) acting for one identity
draws on one quota and one token. Keys are built by :func:`rate_key` / :func:`token_key`
from (platform, identity, endpoint); an identity is never a secret.

A store implements :class:`Store`. :class:`aiofeishu._memory_store.MemoryStore` is the
default (one per event loop, shared by every client on it); ``aiofeishu.redis.RedisStore``
shares one quota and one token across processes and hosts.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["RatePolicy", "Store", "Ticket", "rate_key", "token_fresh_for", "token_key"]

# Scheduling jitter on a busy 2-core host (asyncio.sleep overshoot at load 3-5, 3,000
# samples): p50 0.2 ms, p99 5.1 ms, p99.9 8.6 ms, max 9.2 ms; client and server each add
# theirs. A relative margin alone is 20 ms on 1 s and 2 ms on a 100 ms window, so every
# period is stretched by at least this much: 2.5 % of a 1 s window's throughput.
MARGIN_FLOOR = 0.025


@dataclass(frozen=True, slots=True, eq=False)
class RatePolicy:
    """One rate class (specs/rate_limits.yaml) as a client applies it.

    ``windows``: (limit, period in seconds) pairs that all hold at once ("at most *limit*
    calls in any *period*"). ``concurrency``: at most this many calls in flight (page 62:
    measures allow one at a time per token); ``lease_ttl`` bounds how long a crashed holder
    can keep a concurrency lease. ``margin`` stretches each period by a fraction, at least
    ``margin_floor`` seconds, so requests crossing the network with jitter never land two
    full windows' worth inside one server window.
    """

    windows: tuple[tuple[int, float], ...] = ()
    concurrency: int | None = None
    margin: float = 0.02
    margin_floor: float = MARGIN_FLOOR
    lease_ttl: float = 60.0

    def _identity(self) -> tuple[object, ...]:
        return (self.windows, self.concurrency, self.margin, self.margin_floor, self.lease_ttl)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RatePolicy) and other._identity() == self._identity()

    def __hash__(self) -> int:  # stores look a policy up on every call: hash it cheaply
        return hash(self.windows)

    def padded(self, period: float) -> float:
        """``period`` stretched by the safety margin."""
        return period + max(period * self.margin, self.margin_floor)

    @property
    def unlimited(self) -> bool:
        return not self.windows and self.concurrency is None


@runtime_checkable
class Ticket(Protocol):
    """One admitted call, from admission until it has finished.

    ``depart()`` is awaited each time the request is about to reach the wire (aiohttp can
    send a request a second time by itself when a kept-alive connection drops): the first
    time it records the departure, which is what windows count from; any later time it
    takes a fresh slot first, so every request on the wire passed the limiter.
    ``release()`` is awaited exactly once when the call ends, however it ends: it returns a
    concurrency lease, and gives the slot back when nothing was sent.
    """

    async def depart(self) -> None: ...

    async def release(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    """Rate windows, cool-downs, concurrency leases and token caches, keyed by strings.

    ``shares_user_tokens``: whether the client may cache user tokens here too. A store
    shared across processes says no unless its owner opted in, since a user token carries
    a user's authority (and its refresh token may be single-use).
    """

    shares_user_tokens: bool

    async def admit(self, key: str, policy: RatePolicy) -> Ticket:
        """Return when a call may leave under ``policy`` (FIFO per key).

        Cancelled while waiting, it holds nothing afterwards. Honours a cool-down set on
        ``key`` by :meth:`cool_down`.
        """
        ...

    async def cool_down(self, key: str, seconds: float) -> None:
        """Hold every admission on ``key`` for ``seconds`` (after a 429 seen by anyone)."""
        ...

    async def get_token(self, key: str) -> str | None:
        """The cached token of ``key`` when it is still fresh, else None."""
        ...

    async def put_token(self, key: str, token: str, ttl: float) -> None:
        """Cache ``token`` for ``ttl`` seconds (the store renews a little before expiry)."""
        ...

    async def invalidate_token(self, key: str, token: str) -> None:
        """Drop the cached token of ``key`` only if it is still ``token`` (never a newer one)."""
        ...

    def token_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held while a token of ``key`` is fetched, so one fetch serves every waiter."""
        ...

    async def aclose(self) -> None:
        """Release connections the store holds (the default store holds none)."""
        ...


def token_fresh_for(ttl: float) -> float:
    """How long a token valid for ``ttl`` seconds is served: renewed 10 % (at most five
    minutes) before expiry, so no call carries a dying token."""
    return ttl - min(300.0, ttl / 10)


def rate_key(platform: str, identity: str, endpoint: str) -> str:
    """Key of one (identity, endpoint) quota; ``endpoint`` is ``METHOD /path/template``."""
    return f"rate:{platform}:{identity}:{endpoint}"


def token_key(platform: str, identity: str) -> str:
    """Key of one identity's cached token."""
    return f"token:{platform}:{identity}"


def store_from_url(url: str) -> Store:
    """The store a ``store=`` URL names: ``redis://`` / ``rediss://`` (``aiofeishu[redis]``)."""
    from aiofeishu.errors import ConfigurationError

    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from aiofeishu.redis import RedisStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ConfigurationError(
                "store='redis://…' needs the redis extra: pip install 'aiofeishu[redis]'"
            ) from exc
        return RedisStore.from_url(url)  # type: ignore[no-any-return]
    raise ConfigurationError("store= takes a redis:// or rediss:// URL or a store object")
