"""Where a user's tokens live: with the client that was given them, or in a shared store.

By default a user token (and its refresh token, which the vendor rotates on every refresh)
belongs to the client it was given to and the clients derived from it. A store that shares
user tokens (``RedisStore(share_user_tokens=True)``, or a store object whose
``shares_user_tokens`` is true) keeps them for every process instead: the identity is then
a hash of the initial refresh token (of the access token when there is none), the same in
every process started from the same credentials, and the refresh token is kept in the
store too, so whichever process refreshes next sends the newest one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque
from collections.abc import Callable

from aiofeishu._memory_store import MemoryStore
from aiofeishu._secrets import Secret
from aiofeishu._store import Store, token_key

__all__ = ["RefreshToken", "UserTokenHome", "user_token_home"]

# How long a refresh token is kept when the answer does not say (page 02's example: 14 days).
REFRESH_TOKEN_TTL = 14 * 86400.0


class UserTokenHome:
    """The identity, store and key of one user token, and of its refresh token."""

    __slots__ = ("identity", "key", "refresh_key", "shared", "store")

    def __init__(self, platform: str, identity: str, store: Callable[[], Store], shared: bool):
        self.identity = identity
        self.store = store
        self.shared = shared
        self.key = token_key(platform, identity)
        self.refresh_key = token_key(platform, f"{identity}/refresh")


def user_token_home(
    platform: str, token: str, refresh_token: str | None, store: Store | None
) -> UserTokenHome:
    """A shared home when ``store`` (the client's explicit store) shares user tokens, else
    a store of the client's own under an identity no other client has."""
    if store is not None and store.shares_user_tokens:
        basis = (refresh_token or token).encode()
        digest = hashlib.sha256(b"aiofeishu user token\0" + basis).hexdigest()[:24]
        return UserTokenHome(platform, f"user:{digest}", lambda: store, True)
    own = MemoryStore()
    return UserTokenHome(platform, f"user:{uuid.uuid4().hex[:16]}", lambda: own, False)


class RefreshToken:
    """A user's current refresh token: the one given, or the newest a refresh returned
    (read from the shared store first, where another process may have rotated it)."""

    __slots__ = ("_home", "last", "retired")

    def __init__(self, home: UserTokenHome, initial: str | None) -> None:
        self._home = home
        self.last: Secret | None = Secret(initial) if initial else None
        self.retired: deque[Secret] = deque(maxlen=4)  # rotated ones, still masked in errors

    def __repr__(self) -> str:
        return f"RefreshToken(identity={self._home.identity!r})"

    async def current(self) -> Secret | None:
        if self._home.shared:
            newest = await self._home.store().get_token(self._home.refresh_key)
            if newest is not None and (self.last is None or self.last.reveal() != newest):
                self._rotate(Secret(newest))
        return self.last

    def _rotate(self, token: Secret) -> None:
        if self.last is not None:
            self.retired.append(self.last)
        self.last = token

    async def replace(self, token: str, ttl: float | None) -> None:
        self._rotate(Secret(token))
        if self._home.shared:
            await self._home.store().put_token(
                self._home.refresh_key, token, ttl if ttl and ttl > 0 else REFRESH_TOKEN_TTL
            )
