"""Fleet mode: one quota and one token across processes and hosts, through Redis.

``RedisStore`` implements :class:`aiofeishu._store.Store`. Every admission is one script
run (EVALSHA, loading the script again after a restart) on Redis's own clock: it checks
every window of the rate class at once, reserves the earliest allowed start and returns the
delay, which the caller sleeps; nothing polls. Tokens are cached with their TTL and fetched
under a lock (SET NX PX, released by compare-and-delete), so one fetch serves the fleet.

Key layout (``<h>`` is the first 32 hex digits of SHA-256 of the store key, i.e. of
platform, identity and endpoint: never a secret; the braces keep one quota's keys in one
cluster slot)::

    <ns>:rate:{<h>}:starts   zset  reservation -> reserved start (µs, Redis TIME)
    <ns>:rate:{<h>}:cool     str   end of the cool-down after a 429 (µs)
    <ns>:rate:{<h>}:leases   zset  concurrency lease -> expiry (µs)
    <ns>:token:{<h>}:value   str   the cached token, expiring before the token does
    <ns>:token:{<h>}:lock    str   the fetch lock's owner (random), with a PX expiry
    <ns>:cool-downs          pub/sub channel (not a key): "cool <h> <end>" of each cool-down,
                             "move <h> <after> <by> <at>" of each late departure (µs)

Every key expires: starts one longest period after the last reservation, leases after
``lease_ttl``, cool-downs at their end, tokens at renewal time (after a day when their
lifetime is unknown), locks after ``token_lock_ttl``. With ``share_user_tokens``, a user's
token and refresh token are kept under ``<ns>:token:{<h>}:value`` too (see
``aiofeishu._user_tokens``: the identity is a hash of the initial refresh token).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal, NamedTuple, TypeVar

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("aiofeishu.redis needs redis-py: pip install 'aiofeishu[redis]'") from exc

from aiofeishu import _redis_lua
from aiofeishu._clock_link import ClockLink
from aiofeishu._fallback_store import LocalStore
from aiofeishu._reservation import Move, admit, longest_move, note_move
from aiofeishu._store import RatePolicy, Store, Ticket, token_fresh_for
from aiofeishu._store_errors import StoreUnavailableError
from aiofeishu._token_copies import TokenCopies
from aiofeishu.errors import ConfigurationError

__all__ = ["RedisStore", "StoreUnavailableError"]

logger = logging.getLogger("aiofeishu")

T = TypeVar("T")
CALIBRATION_READS = 3  # the first one may open the connection
OnUnavailable = Literal["raise", "local"]
# A token of unknown lifetime (a user token given without expires_in) is kept this long:
# every key expires.
UNKNOWN_TOKEN_TTL = 86400.0
MAX_CONNECTIONS = 16  # per store made from a URL (one of them listens for cool-downs)


class _RateKeys(NamedTuple):
    starts: str
    cool: str
    leases: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _us(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """Rate windows, cool-downs, leases and tokens shared by every process using one Redis.

    ``url_or_client``: a ``redis://`` / ``rediss://`` / ``unix://`` URL (the store owns and
    closes the connection pool) or a ``redis.asyncio.Redis`` client (the caller owns it).
    ``timeout`` bounds every Redis call. When Redis does not answer in time:
    ``on_unavailable="local"`` (default) limits calls per process, as without Redis, with
    one warning per outage, trying Redis again every ``reconnect_interval`` seconds;
    ``"raise"`` raises :class:`StoreUnavailableError` (a FeishuError) and sends nothing.
    ``share_user_tokens`` lets clients cache user tokens here too (off: only plugin and
    app tokens, which the vendor hands every caller alike). ``clock`` is the local
    monotonic clock, used only to measure how late a caller woke.
    """

    def __init__(
        self,
        url_or_client: str | aioredis.Redis,
        *,
        namespace: str = "aiofeishu",
        on_unavailable: OnUnavailable = "local",
        timeout: float = 1.0,
        share_user_tokens: bool = False,
        token_lock_ttl: float = 30.0,
        reconnect_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_unavailable not in ("raise", "local"):
            raise ConfigurationError(
                f"on_unavailable must be 'raise' or 'local', not {on_unavailable!r}"
            )
        if not namespace or any(c in namespace for c in "{} "):
            raise ConfigurationError("namespace must be non-empty, without braces or spaces")
        if isinstance(url_or_client, str):
            self._client = _client_from_url(url_or_client, timeout)
            self._owns_client = True
        else:
            self._client, self._owns_client = url_or_client, False
        self._namespace = namespace
        self._timeout = timeout
        self._on_unavailable = on_unavailable
        self.shares_user_tokens = share_user_tokens
        self._token_lock_ttl = token_lock_ttl
        self._reconnect_interval = reconnect_interval
        self._clock = clock
        self.clock_link = ClockLink()  # Redis TIME against this process's clock
        self._calibrated = False
        self._calibrating = asyncio.Lock()
        self._server = _describe(self._client)
        # The one line to change for the default store: MemoryStore() once it exists.
        self._local: Store = LocalStore(clock=clock)
        self._local_until: float | None = None  # set while Redis is being skipped
        self._scripts = {
            name: self._client.register_script(getattr(_redis_lua, name))
            for name in _redis_lua.__all__
        }
        self._lease_queues: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._token_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._token_copies = TokenCopies(clock)  # no round trip per call for its token
        self._cool_until: dict[str, float] = {}  # quota hash -> end of its cool-down (Redis s)
        self._moves: defaultdict[str, list[Move]] = defaultdict(list)  # quota hash -> moves
        self._cool_channel = f"{namespace}:cool-downs"
        self._listener: asyncio.Task[None] | None = None
        self._renewals: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """``RedisStore(url, **options)``: a store owning its connection pool."""
        return cls(url, **options)

    async def __aenter__(self) -> RedisStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"RedisStore(server={self._server!r}, namespace={self._namespace!r}, "
            f"on_unavailable={self._on_unavailable!r})"
        )

    # -- plumbing -------------------------------------------------------------------------

    def _keys(self, key: str) -> str:
        kind = key.split(":", 1)[0]
        kind = kind if kind in ("rate", "token") else "key"
        return f"{self._namespace}:{kind}:{{{_digest(key)}}}"

    def _rate_keys(self, key: str) -> _RateKeys:
        base = self._keys(key)
        return _RateKeys(f"{base}:starts", f"{base}:cool", f"{base}:leases")

    async def _run(self, command: Awaitable[T]) -> T:
        """One Redis call, bounded by ``timeout``; any failure is a StoreUnavailableError."""
        try:
            async with asyncio.timeout(self._timeout):
                return await command
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailableError(
                f"Redis store at {self._server} unavailable ({type(exc).__name__})"
            ) from exc

    async def _script(self, name: str, keys: list[str], args: list[str | int]) -> int:
        return int(await self._run(self._scripts[name](keys=keys, args=args)))

    async def _either(
        self, on_redis: Callable[[], Awaitable[T]], on_local: Callable[[], Awaitable[T]]
    ) -> T:
        """``on_redis()``, or ``on_local()`` while Redis is unavailable and the store falls back."""
        if self._local_until is not None and self._clock() < self._local_until:
            return await on_local()
        try:
            result = await on_redis()
        except StoreUnavailableError as exc:
            if self._on_unavailable == "raise":
                raise
            self._skip_redis(exc)
            return await on_local()
        if self._local_until is not None:
            self._local_until = None
            logger.info("Redis store at %s is reachable again: limits are fleet-wide", self._server)
        return result

    def _skip_redis(self, exc: StoreUnavailableError) -> None:
        if self._local_until is None:
            logger.warning(
                "%s: limiting calls per process until it answers again (retried every %.0fs)",
                exc,
                self._reconnect_interval,
            )
        self._local_until = self._clock() + self._reconnect_interval

    # -- admission (Store.admit, Store.cool_down) and the Reserver it runs on -------------

    async def admit(self, key: str, policy: RatePolicy) -> Ticket:
        async def fall_back() -> Ticket:
            self._skip_redis(StoreUnavailableError(f"Redis store at {self._server} unavailable"))
            return await self._local.admit(key, policy)

        fallback = fall_back if self._on_unavailable == "local" else None

        async def on_redis() -> Ticket:
            self._hear_cool_downs()
            await self._calibrate()
            return await admit(self, key, policy, self._clock, fallback)

        return await self._either(on_redis, lambda: self._local.admit(key, policy))

    async def _calibrate(self) -> None:
        """Read Redis's clock a few times before the first reservation: a reservation's own
        reply may come late on a cold connection, and counting its set-up as lateness would
        send the first calls to the back of the queue."""
        if self._calibrated:
            return
        async with self._calibrating:
            if self._calibrated:
                return  # another caller did it while this one waited
            for _ in range(CALIBRATION_READS):
                sent = self._clock()
                seconds, micros = await self._run(self._client.time())
                self.clock_link.observe(sent, self._clock(), seconds + micros / 1_000_000)
            self._calibrated = True

    async def reserve(
        self, key: str, policy: RatePolicy, member: str, lease_id: str, replaces: str | None
    ) -> tuple[float, float] | None:
        keys = self._rate_keys(key)
        args: list[str | int] = [
            member,
            replaces or "",
            lease_id,
            policy.concurrency or 0,
            _us(policy.lease_ttl),
        ]
        for limit, period in policy.windows:
            args += [limit, _us(policy.padded(period))]
        now, start = await self._run(self._scripts["ADMIT"](keys=list(keys), args=args))
        if start < 0:
            return None
        if policy.concurrency is not None and lease_id not in self._renewals:
            self._renewals[lease_id] = asyncio.create_task(
                self._renew(keys.leases, lease_id, policy.lease_ttl)
            )
        return int(now) / 1_000_000, int(start) / 1_000_000

    async def _renew(self, leases: str, lease_id: str, ttl: float) -> None:
        """Keep a held lease alive while its call runs; a crashed holder's lease expires."""
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                if not await self._script("RENEW_LEASE", [leases], [lease_id, _us(ttl)]):
                    return
            except StoreUnavailableError as exc:
                logger.debug("could not renew a concurrency lease: %s", exc)

    async def give_back(self, key: str, member: str | None, lease_id: str | None) -> None:
        if lease_id is not None and (renewal := self._renewals.pop(lease_id, None)):
            renewal.cancel()
        keys = self._rate_keys(key)
        await self._script("GIVE_BACK", [keys.starts, keys.leases], [member or "", lease_id or ""])

    def lease_queue(self, key: str) -> asyncio.Lock:
        return self._lease_queues[key]

    async def keep_place(
        self, key: str, policy: RatePolicy, member: str
    ) -> tuple[float, Move | None] | None:
        digest = _digest(key)
        args: list[str | int] = [member, self._cool_channel, digest, _us(longest_move(policy))]
        script = self._scripts["KEEP_PLACE"](keys=[self._rate_keys(key).starts], args=args)
        now_us, by_us = (int(value) for value in await self._run(script))
        if by_us < 0:
            return None
        if by_us == 0:
            return now_us / 1_000_000, None
        # The same floats as the announcement's; noted now, so this process's sleepers move
        # before it comes back.
        move = Move(now_us / 1_000_000, (now_us - by_us) / 1_000_000, by_us / 1_000_000)
        note_move(self._moves[digest], move)
        return move.at, move

    def moves(self, key: str) -> list[Move]:
        return self._moves.get(_digest(key), [])

    def cool_until(self, key: str) -> float:
        return self._cool_until.get(_digest(key), -math.inf)

    def _heard_cool_down(self, digest: str, ends: float) -> None:
        if math.isfinite(ends) and ends > self._cool_until.get(digest, -math.inf):
            self._cool_until[digest] = ends

    async def cool_down(self, key: str, seconds: float) -> None:
        digest = _digest(key)
        # This process's sleepers move at once, whether or not Redis answers.
        self._heard_cool_down(digest, self.clock_link.latest_server_time(self._clock()) + seconds)

        async def on_redis() -> None:
            keys = self._rate_keys(key)
            args: list[str | int] = [_us(seconds), self._cool_channel, digest]
            ends = await self._script("COOL_DOWN", [keys.cool, keys.starts], args)
            self._heard_cool_down(digest, ends / 1_000_000)

        await self._either(on_redis, lambda: self._local.cool_down(key, seconds))

    def _hear(self, words: list[str]) -> None:
        """One announcement: ``cool <h> <end>`` or ``move <h> <after> <by> <at>`` (µs)."""
        if not all(word.isdigit() for word in words[2:]):
            return
        times = [int(word) / 1_000_000 for word in words[2:]]
        if words[0] == "cool" and len(times) == 1:
            self._heard_cool_down(words[1], times[0])
        elif words[0] == "move" and len(times) == 3:
            after, by, at = times
            note_move(self._moves[words[1]], Move(at, after, by))

    def _hear_cool_downs(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        """Note the cool-downs other processes set, so that calls this one has already
        reserved reserve again after it (at departure: no call waits on the channel)."""
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._cool_channel)
                async for message in pubsub.listen():
                    self._hear(_text(message["data"]).split(" "))
            except (RedisError, OSError) as exc:
                logger.debug("cool-down channel lost, listening again soon: %r", exc)
            finally:
                await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]
            await asyncio.sleep(self._reconnect_interval)

    # -- tokens ---------------------------------------------------------------------------

    async def get_token(self, key: str) -> str | None:
        copy = self._token_copies.get(key)
        if copy is not None:
            return copy

        async def on_redis() -> str | None:
            return await self._token_copies.read(key, lambda: self._read_token(key))

        return await self._either(on_redis, lambda: self._local.get_token(key))

    async def _read_token(self, key: str) -> tuple[str | None, float]:
        """The cached token and the seconds until Redis expires it."""
        name = f"{self._keys(key)}:value"
        reads = self._client.pipeline(transaction=False)
        reads.get(name)
        reads.pttl(name)
        value, remaining_ms = await self._run(reads.execute())
        return (None, 0.0) if value is None else (_text(value), remaining_ms / 1000)

    async def put_token(self, key: str, token: str, ttl: float) -> None:
        fresh = min(token_fresh_for(ttl), UNKNOWN_TOKEN_TTL)
        if fresh <= 0:
            return

        async def on_redis() -> None:
            await self._run(
                self._client.set(f"{self._keys(key)}:value", token, px=_us(fresh) // 1000 or 1)
            )
            self._token_copies.put(key, token, fresh)

        await self._either(on_redis, lambda: self._local.put_token(key, token, ttl))

    async def invalidate_token(self, key: str, token: str) -> None:
        self._token_copies.drop(key, token)

        async def on_redis() -> None:
            await self._script("COMPARE_AND_DELETE", [f"{self._keys(key)}:value"], [token])

        await self._either(on_redis, lambda: self._local.invalidate_token(key, token))

    def token_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._hold_token_lock(key)

    @asynccontextmanager
    async def _hold_token_lock(self, key: str) -> AsyncIterator[None]:
        # One waiter per process contends in Redis; the others queue here behind it.
        async with self._token_locks[key]:
            lock, owner = f"{self._keys(key)}:lock", secrets.token_hex(16)

            async def on_local() -> bool:
                return False  # the process-wide lock above is all there is without Redis

            held = await self._either(lambda: self._take_lock(lock, owner), on_local)
            try:
                yield
            finally:
                if held:
                    await asyncio.shield(self._drop_lock(lock, owner))

    async def _take_lock(self, lock: str, owner: str) -> bool:
        pause = 0.01
        try:
            while not await self._run(
                self._client.set(lock, owner, nx=True, px=_us(self._token_lock_ttl) // 1000)
            ):
                # Its holder is fetching: the token appears when it releases the lock.
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.1)
        except BaseException:
            await asyncio.shield(self._drop_lock(lock, owner))  # in case the SET got through
            raise
        return True

    async def _drop_lock(self, lock: str, owner: str) -> None:
        try:
            await self._script("COMPARE_AND_DELETE", [lock], [owner])
        except StoreUnavailableError as exc:
            logger.debug("could not release a token lock (it expires): %s", exc)

    async def aclose(self) -> None:
        tasks = [*self._renewals.values(), *([self._listener] if self._listener else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._renewals.clear()
        self._listener = None
        if self._owns_client:
            await self._client.aclose()


def _client_from_url(url: str, timeout: float) -> aioredis.Redis:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError("a Redis store URL starts with redis://, rediss:// or unix://")
    # A bounded pool: a burst of calls on a cold process waits a moment for a connection
    # instead of opening one each (hundreds of handshakes at once stall the loop for longer
    # than the rate windows' margin). One immediate retry on a fresh connection covers a
    # pooled one Redis closed (restart).
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )
    return aioredis.Redis.from_pool(pool)


def _describe(client: aioredis.Redis) -> str:
    """host:port/db of the client's server: never its password."""
    options = client.connection_pool.connection_kwargs
    where = options.get("path") or f"{options.get('host', '?')}:{options.get('port', '?')}"
    return f"{where}/{options.get('db', 0)}"
