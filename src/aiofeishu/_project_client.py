"""ProjectClient: the Feishu Project Open API (/open_api/...)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from aiofeishu._api import RequestOptions
from aiofeishu._auth import TokenSource, UserToken
from aiofeishu._client import BaseClient, Credential, RateLimits
from aiofeishu._endpoint import Endpoint
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
    """

    _platform: ClassVar[str] = "project"
    # Token rejections on page 09: drop the cached token, fetch once, retry once.
    _token_error_codes: ClassVar[frozenset[int]] = frozenset({10021, 10022, 10211, 10301})
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
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 3,
        timeout: float = 30.0,
        rate_limits: RateLimits | None = None,
        rate_limit_margin: float = 0.02,
        retry_backoff: tuple[float, float] = (0.5, 8.0),
    ) -> None:
        super().__init__(
            base_url=base_url or os.environ.get("FEISHU_PROJECT_BASE_URL") or DEFAULT_BASE_URL,
            session=session,
            max_retries=max_retries,
            timeout=timeout,
            rate_limits=rate_limits,
            rate_limit_margin=rate_limit_margin,
            retry_backoff=retry_backoff,
        )
        self.plugin_id = plugin_id or os.environ.get("FEISHU_PROJECT_PLUGIN_ID") or None
        self._plugin_secret = (
            plugin_secret or os.environ.get("FEISHU_PROJECT_PLUGIN_SECRET") or None
        )
        self.user_key = user_key or os.environ.get("FEISHU_PROJECT_USER_KEY") or None
        self.virtual = virtual
        has_plugin = bool(self.plugin_id and self._plugin_secret)
        if not has_plugin and user_token is None:
            raise ConfigurationError(
                "ProjectClient needs plugin_id and plugin_secret (or FEISHU_PROJECT_PLUGIN_ID / "
                "FEISHU_PROJECT_PLUGIN_SECRET), or a user_token"
            )
        self._plugin_tokens: TokenSource | None = None
        if has_plugin:
            kind = "virtual" if virtual else "plugin"
            self._plugin_tokens = TokenSource(f"{kind}:{self.plugin_id}", self._fetch_plugin_token)
        self._user_tokens: TokenSource | None = None
        self._refresh_token: str | None = None
        if user_token is not None:
            if isinstance(user_token, str):
                user_token = UserToken(user_token)
            self._refresh_token = user_token.refresh_token
            ttl = user_token.expires_in
            self._user_tokens = TokenSource(
                f"user:{id(self):x}", self._refresh_user_token, initial=(user_token.token, ttl)
            )

    def __repr__(self) -> str:
        mode = "user_token" if self._user_tokens else ("virtual" if self.virtual else "plugin")
        return (
            f"ProjectClient(base_url={self.base_url!r}, plugin_id={self.plugin_id!r}, "
            f"plugin_secret={'***' if self._plugin_secret else None}, user_key={self.user_key!r}, mode={mode!r})"
        )

    async def _fetch_plugin_token(self) -> tuple[str, float]:
        response = await self.authen.plugin_token(
            plugin_id=self.plugin_id or "",
            plugin_secret=self._plugin_secret or "",
            type=1 if self.virtual else 0,
        )
        data = response.data
        if not data or not data.token:
            raise AuthenticationError(
                status=200,
                code=None,
                msg="plugin_token response carries no token",
                log_id=None,
                method="POST",
                path=_ep.AUTHEN_PLUGIN_TOKEN.path,
            )
        return data.token, float(data.expire_time or 7200)

    async def _refresh_user_token(self) -> tuple[str, float]:
        if not self._refresh_token:
            raise AuthenticationError(
                status=401,
                code=None,
                msg="the user_access_token expired or was rejected and no refresh_token was given",
                log_id=None,
                method="POST",
                path=_ep.AUTHEN_REFRESH_TOKEN.path,
            )
        response = await self.authen.refresh_token(refresh_token=self._refresh_token, type=1)
        data = response.data
        if not data or not data.token:
            raise AuthenticationError(
                status=200,
                code=None,
                msg="refresh_token response carries no token",
                log_id=None,
                method="POST",
                path=_ep.AUTHEN_REFRESH_TOKEN.path,
            )
        if data.refresh_token:
            self._refresh_token = data.refresh_token
        return data.token, float(data.expire_time or 7200)

    async def _credential(self, endpoint: Endpoint, options: RequestOptions) -> Credential:
        if endpoint.auth == "none":
            return Credential("anonymous", {})
        use_plugin = endpoint.auth == "plugin_only" or self._user_tokens is None
        if use_plugin and self._plugin_tokens is None:
            if self._user_tokens is None or self._user_tokens.last_token is None:
                raise ConfigurationError(
                    f"{endpoint.key} needs plugin credentials (plugin_id / plugin_secret)"
                )
            # Without plugin credentials, page 02's refresh example sends the user's own token.
            # (Called while the user token is being renewed, so it must not wait for it.)
            return Credential(
                self._user_tokens.identity, {"X-PLUGIN-TOKEN": self._user_tokens.last_token}
            )
        user_key = options.user_key or (self.user_key if use_plugin else None)
        if (
            use_plugin
            and endpoint.auth == "plugin"
            and not user_key
            and endpoint.user_key == "required"
        ):
            raise ConfigurationError(
                f"{endpoint.key} needs a user key with a plugin token: pass user_key= to ProjectClient, "
                "set FEISHU_PROJECT_USER_KEY, or use RequestOptions(user_key=...)"
            )
        source = self._plugin_tokens if use_plugin else self._user_tokens
        assert source is not None
        token = await source.get()
        headers = {"X-PLUGIN-TOKEN": token}
        if user_key and endpoint.auth == "plugin":
            headers["X-USER-KEY"] = user_key
        return Credential(source.identity, headers, source, token)

    def _envelope_code(self, env: Any) -> tuple[int | None, str, Any]:
        error = getattr(env, "error", None)
        if isinstance(error, Mapping) and error.get("code"):  # the authen endpoints' envelope
            return int(error["code"]), str(error.get("msg") or ""), error
        err = getattr(env, "err", None)
        code = getattr(env, "err_code", None)
        if not code and isinstance(err, Mapping) and err.get("code"):
            code = err["code"]
        msg = (
            getattr(env, "err_msg", None)
            or (err.get("msg") if isinstance(err, Mapping) else None)
            or ""
        )
        return (int(code) if code else None), str(msg), err
