"""ProjectClient: the Feishu Project Open API (/open_api/...)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from aiofeishu._api import RequestOptions
from aiofeishu._auth import TokenProvider, UserToken
from aiofeishu._client import BaseClient, ClientOptions, Credential, RateLimits
from aiofeishu._endpoint import Endpoint
from aiofeishu._secrets import MaskedHeaders, Secret
from aiofeishu._store import Store, token_key
from aiofeishu._transport import Transport, origin
from aiofeishu._user_tokens import RefreshToken, user_token_home
from aiofeishu.errors import AuthenticationError, ConfigurationError
from aiofeishu.project import endpoints as _ep
from aiofeishu.project.api import ProjectGroups

__all__ = ["ProjectClient"]

DEFAULT_BASE_URL = "https://project.feishu.cn"


class ProjectClient(ProjectGroups, BaseClient):
    """Async client of the Feishu Project Open API.

    Credentials come from the arguments or the environment (``FEISHU_PROJECT_PLUGIN_ID``,
    ``FEISHU_PROJECT_PLUGIN_SECRET``, ``FEISHU_PROJECT_USER_KEY``, ``FEISHU_PROJECT_BASE_URL``).
    With plugin credentials the client fetches and caches a plugin_access_token
    (``virtual=True``: a virtual_plugin_token) and sends ``X-USER-KEY``; with
    ``user_token`` it calls as that user (renewing through its refresh_token when given one).

    Tokens and rate windows live in ``store`` (default: one in-process store per event
    loop, shared by every client acting for the same plugin). ``transport`` replaces the
    aiohttp transport (tests, recorders); ``session`` / ``proxy`` / ``trust_env`` configure it.
    """

    _platform: ClassVar[str] = "project"
    _idempotency_header: ClassVar[str | None] = "X-IDEM-UUID"

    def __init__(
        self,
        plugin_id: str | None = None,
        plugin_secret: str | None = None,
        *,
        user_key: str | None = None,
        base_url: str | None = None,
        user_token: str | UserToken | None = None,
        virtual: bool = False,
        session: Any = None,
        transport: Transport | None = None,
        store: Store | str | None = None,
        proxy: str | None = None,
        trust_env: bool = False,
        max_retries: int = 3,
        timeout: float = 30.0,
        rate_limits: RateLimits | None = None,
        rate_limit_margin: float = 0.02,
        retry_backoff: tuple[float, float] = (0.5, 8.0),
        max_retry_wait: float = 60.0,
    ) -> None:
        super().__init__(
            base_url=base_url or os.environ.get("FEISHU_PROJECT_BASE_URL") or DEFAULT_BASE_URL,
            options=ClientOptions(
                user_key=user_key or os.environ.get("FEISHU_PROJECT_USER_KEY") or None,
                timeout=timeout,
                max_retries=max_retries,
                retry_backoff=retry_backoff,
                max_retry_wait=max_retry_wait,
                rate_limit_margin=rate_limit_margin,
                rate_limits=dict(rate_limits or {}),
            ),
            session=session,
            transport=transport,
            store=store,
            proxy=proxy,
            trust_env=trust_env,
        )
        self.plugin_id = plugin_id or os.environ.get("FEISHU_PROJECT_PLUGIN_ID") or None
        secret = plugin_secret or os.environ.get("FEISHU_PROJECT_PLUGIN_SECRET") or None
        self._plugin_secret = Secret(secret) if secret else None
        self.virtual = virtual
        if not (self.plugin_id and self._plugin_secret) and user_token is None:
            raise ConfigurationError(
                "ProjectClient needs plugin_id and plugin_secret (or FEISHU_PROJECT_PLUGIN_ID / "
                "FEISHU_PROJECT_PLUGIN_SECRET), or a user_token"
            )
        self._credentials: dict[tuple[Secret, str | None], Credential] = {}
        self._plugin_tokens = self._plugin_provider()
        self._user_tokens: TokenProvider | None = None
        self._refresh_token: RefreshToken | None = None
        if user_token is not None:
            self._user_tokens = self._user_provider(user_token)

    def _plugin_provider(self) -> TokenProvider | None:
        if not (self.plugin_id and self._plugin_secret):
            return None
        kind = "virtual" if self.virtual else "plugin"
        identity = f"{kind}:{self.plugin_id}@{origin(self.base_url)}"
        return TokenProvider(
            self.store, token_key("project", identity), identity, self._fetch_plugin_token
        )

    def _user_provider(self, user_token: str | UserToken) -> TokenProvider:
        if isinstance(user_token, str):
            user_token = UserToken(user_token)
        # This client's own, unless its store shares user tokens (aiofeishu._user_tokens).
        home = user_token_home(
            "project", user_token.token, user_token.refresh_token, self._binding.store
        )
        self._refresh_token = RefreshToken(home, user_token.refresh_token)
        return TokenProvider(
            home.store,
            home.key,
            home.identity,
            self._refresh_user_token,
            initial=(user_token.token, user_token.expires_in),
        )

    @property
    def user_key(self) -> str | None:
        return self._options.user_key

    def __repr__(self) -> str:
        mode = "user_token" if self._user_tokens else ("virtual" if self.virtual else "plugin")
        return (
            f"ProjectClient(base_url={self.base_url!r}, plugin_id={self.plugin_id!r}, "
            f"plugin_secret={'***' if self._plugin_secret else None}, "
            f"user_key={self.user_key!r}, mode={mode!r})"
        )

    def _secrets(self) -> tuple[Secret, ...]:
        found = [self._plugin_secret]
        if self._refresh_token is not None:
            found += [self._refresh_token.last, *self._refresh_token.retired]
        for provider in (self._plugin_tokens, self._user_tokens):
            if provider is not None:
                found += [provider.last_token, *provider.retired]
        return tuple(s for s in found if s is not None)

    async def _fetch_plugin_token(self) -> tuple[Secret, float]:
        endpoint = _ep.AUTHEN_PLUGIN_TOKEN
        options = RequestOptions()
        response = await self._execute(
            self._prepare(
                endpoint,
                {
                    "plugin_id": self.plugin_id or "",
                    "plugin_secret": self._plugin_secret,
                    "type": 1 if self.virtual else 0,
                },
                options,
            ),
            options,
        )
        return _token_of(response, endpoint)

    async def _refresh_user_token(self) -> tuple[Secret, float]:
        endpoint = _ep.AUTHEN_REFRESH_TOKEN
        refresh = await self._refresh_token.current() if self._refresh_token else None
        if refresh is None:
            raise AuthenticationError(
                status=401,
                code=None,
                msg="the user_access_token expired or was rejected and no refresh_token was given",
                log_id=None,
                method=endpoint.method,
                path=endpoint.path,
            )
        options = RequestOptions()
        response = await self._execute(
            self._prepare(endpoint, {"refresh_token": refresh, "type": 1}, options),
            options,
        )
        rotated = getattr(response.data, "refresh_token", None)
        if rotated and self._refresh_token is not None:
            lifetime = getattr(response.data, "refresh_token_expire_time", None)
            await self._refresh_token.replace(
                rotated, float(lifetime) if isinstance(lifetime, int) else None
            )
        return _token_of(response, endpoint)

    def _credential_now(self, endpoint: Endpoint, options: RequestOptions) -> Credential | None:
        resolved = self._credential_source(endpoint, options)
        if isinstance(resolved, Credential):
            return resolved
        source, user_key = resolved
        token = source.now()
        return None if token is None else self._credential_for(source, token, user_key)

    async def _authenticate(self, endpoint: Endpoint, options: RequestOptions) -> Credential:
        resolved = self._credential_source(endpoint, options)
        if isinstance(resolved, Credential):
            return resolved
        source, user_key = resolved
        token = source.now() or await source.get()
        return self._credential_for(source, token, user_key)

    def _credential_source(
        self, endpoint: Endpoint, options: RequestOptions
    ) -> Credential | tuple[TokenProvider, str | None]:
        """Whose token the call carries, and the user key beside it; or the credential itself
        when no token is involved. Raises ConfigurationError when the client lacks one."""
        users = self._user_tokens
        if endpoint.auth == "none":
            anonymous = self._plugin_tokens or users
            return Credential(anonymous.identity if anonymous else "anonymous", MaskedHeaders())
        use_plugin = endpoint.auth == "plugin_only" or users is None
        if use_plugin and self._plugin_tokens is None:
            if users is None or users.last_token is None:
                raise ConfigurationError(
                    f"{endpoint.key} needs plugin credentials (plugin_id / plugin_secret)"
                )
            # Without plugin credentials, page 02's refresh example sends the user's own token.
            # (Called while the user token is being renewed, so it must not wait for it.)
            headers = MaskedHeaders({"X-PLUGIN-TOKEN": users.last_token.reveal()})
            return Credential(users.identity, headers)
        user_key = options.user_key or (self.user_key if use_plugin else None)
        if (
            use_plugin
            and endpoint.auth == "plugin"
            and not user_key
            and endpoint.user_key == "required"
        ):
            raise ConfigurationError(
                f"{endpoint.key} needs a user key with a plugin token: pass user_key= to "
                "ProjectClient, set FEISHU_PROJECT_USER_KEY, or use RequestOptions(user_key=...)"
            )
        source = self._plugin_tokens if use_plugin else users
        assert source is not None
        return source, user_key if endpoint.auth == "plugin" else None

    def _credential_for(
        self, source: TokenProvider, token: Secret, user_key: str | None
    ) -> Credential:
        cached = self._credentials.get((token, user_key))
        if cached is None:  # one Credential per (token, user key): calls share it read-only
            headers = MaskedHeaders({"X-PLUGIN-TOKEN": token.reveal()})
            if user_key:
                headers["X-USER-KEY"] = user_key
            if len(self._credentials) > 256:
                self._credentials.clear()
            cached = self._credentials[(token, user_key)] = Credential(
                source.identity, headers, source, token
            )
        return cached


def _token_of(response: Any, endpoint: Endpoint) -> tuple[Secret, float]:
    """The token and its lifetime of an authen answer (no local holds the raw token)."""
    data = getattr(response, "data", None)
    if data is not None and isinstance(getattr(data, "token", None), str) and data.token:
        expire = getattr(data, "expire_time", None)
        ttl = float(expire) if isinstance(expire, (int, float)) and expire > 0 else 7200.0
        return Secret(data.token), ttl
    raise AuthenticationError(
        status=200,
        code=None,
        msg=f"{endpoint.name} response carries no token",
        log_id=getattr(response, "log_id", None),
        method=endpoint.method,
        path=endpoint.path,
    )
