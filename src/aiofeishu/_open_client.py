"""OpenClient: the Feishu Open Platform endpoints aiofeishu supports (/open-apis/...)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import aiohttp

from aiofeishu._api import RequestOptions
from aiofeishu._auth import TokenSource
from aiofeishu._base import OpenResponse, RequestModel
from aiofeishu._client import BaseClient, Credential, RateLimits
from aiofeishu._endpoint import Endpoint
from aiofeishu.errors import AuthenticationError, ConfigurationError
from aiofeishu.open.api import OpenGroups

__all__ = ["OpenClient"]

DEFAULT_BASE_URL = "https://open.feishu.cn"


class TenantTokenRequest(RequestModel, kw_only=True):
    app_id: str
    app_secret: str


class TenantTokenResponse(OpenResponse, kw_only=True):
    tenant_access_token: str | None = None
    expire: int | None = None


# Not one of the SDK's endpoints (it is how the client authenticates), so it is described here.
TENANT_TOKEN = Endpoint(
    platform="open",
    group="auth",
    name="tenant_access_token",
    method="POST",
    path="/open-apis/auth/v3/tenant_access_token/internal",
    summary="自建应用获取 tenant_access_token",
    doc="open.feishu.cn auth/v3/tenant_access_token/internal",
    writes=False,
    rate_limit="open_default",
    windows=((50, 1.0),),
    auth="none",
    user_key="none",
    envelope="open",
    path_params=(),
    query_params=(),
    body_params=("app_id", "app_secret"),
    file_params=(),
    multipart=False,
    download=False,
    pagination=None,
    errors=(),
    request_type_name="TenantTokenRequest",
    response_type_name="TenantTokenResponse",
    types=(TenantTokenRequest, TenantTokenResponse),
)


class OpenClient(OpenGroups, BaseClient):
    """Async client of the Open Platform endpoints (OKR progress records, Task v1).

    Credentials come from the arguments or ``FEISHU_APP_ID`` / ``FEISHU_APP_SECRET``; the
    client fetches and caches a tenant_access_token, or calls with ``user_access_token``.
    """

    _platform: ClassVar[str] = "open"
    _token_error_codes: ClassVar[frozenset[int]] = frozenset({99991663, 99991661, 99991668})
    _idempotency_header: ClassVar[str | None] = None  # these endpoints have no idempotency header
    _content_type: ClassVar[str] = "application/json; charset=utf-8"

    def __init__(
        self,
        app_id: str | None = None,
        app_secret: str | None = None,
        *,
        base_url: str | None = None,
        user_access_token: str | None = None,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 3,
        timeout: float = 30.0,
        rate_limits: RateLimits | None = None,
        rate_limit_margin: float = 0.02,
        retry_backoff: tuple[float, float] = (0.5, 8.0),
    ) -> None:
        super().__init__(
            base_url=base_url or os.environ.get("FEISHU_BASE_URL") or DEFAULT_BASE_URL,
            session=session,
            max_retries=max_retries,
            timeout=timeout,
            rate_limits=rate_limits,
            rate_limit_margin=rate_limit_margin,
            retry_backoff=retry_backoff,
        )
        self.app_id = app_id or os.environ.get("FEISHU_APP_ID") or None
        self._app_secret = app_secret or os.environ.get("FEISHU_APP_SECRET") or None
        if not (self.app_id and self._app_secret) and not user_access_token:
            raise ConfigurationError(
                "OpenClient needs app_id and app_secret (or FEISHU_APP_ID / FEISHU_APP_SECRET), or a user_access_token"
            )
        self._tokens: TokenSource
        if user_access_token:
            self._tokens = TokenSource(
                f"user:{id(self):x}", self._no_refresh, initial=(user_access_token, None)
            )
        else:
            self._tokens = TokenSource(f"tenant:{self.app_id}", self._fetch_tenant_token)

    def __repr__(self) -> str:
        return (
            f"OpenClient(base_url={self.base_url!r}, app_id={self.app_id!r}, "
            f"app_secret={'***' if self._app_secret else None})"
        )

    async def _fetch_tenant_token(self) -> tuple[str, float]:
        response = await self._send(
            self._prepare(TENANT_TOKEN, {"app_id": self.app_id, "app_secret": self._app_secret}),
            None,
        )
        if not response.tenant_access_token:
            raise AuthenticationError(
                status=200,
                code=None,
                msg="no tenant_access_token in the response",
                log_id=None,
                method="POST",
                path=TENANT_TOKEN.path,
            )
        return response.tenant_access_token, float(response.expire or 7200)

    async def _no_refresh(self) -> tuple[str, float]:
        raise AuthenticationError(
            status=401,
            code=None,
            msg="the user_access_token was rejected; pass a fresh one",
            log_id=None,
            method="-",
            path="-",
        )

    async def _credential(self, endpoint: Endpoint, options: RequestOptions) -> Credential:
        if endpoint.auth == "none":
            return Credential("anonymous", {})
        token = await self._tokens.get()
        return Credential(
            self._tokens.identity, {"Authorization": f"Bearer {token}"}, self._tokens, token
        )

    def _envelope_code(self, env: Any) -> tuple[int | None, str, Any]:
        code = getattr(env, "code", None)
        return code, str(getattr(env, "msg", None) or ""), getattr(env, "error", None)
