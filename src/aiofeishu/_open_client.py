"""OpenClient: the Feishu Open Platform endpoints aiofeishu supports (/open-apis/...)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from aiofeishu._api import RequestOptions
from aiofeishu._auth import TokenProvider
from aiofeishu._base import OpenResponse, RequestModel
from aiofeishu._client import BaseClient, ClientOptions, Credential, RateLimits
from aiofeishu._endpoint import Endpoint
from aiofeishu._secrets import MaskedHeaders, Secret
from aiofeishu._store import Store, token_key
from aiofeishu._transport import Transport, origin
from aiofeishu._user_tokens import user_token_home
from aiofeishu.errors import AuthenticationError, ConfigurationError
from aiofeishu.open.api import OpenGroups
from aiofeishu.rate_classes import RATE_CLASSES

__all__ = ["OpenClient"]

DEFAULT_BASE_URL = "https://open.feishu.cn"


class TenantTokenRequest(RequestModel, kw_only=True):
    app_id: str
    app_secret: str


class TenantTokenResponse(OpenResponse, kw_only=True):
    tenant_access_token: str | None = None
    expire: int | None = None


# Not one of the SDK's endpoints (it is how the client authenticates), so it is described
# here; its rate class comes from specs/rate_limits.yaml like every other endpoint's.
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
    windows=RATE_CLASSES["open_default"][0],
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
    ``store``, ``transport``, ``session``, ``proxy`` and ``trust_env`` as on ProjectClient.
    """

    _platform: ClassVar[str] = "open"
    _idempotency_header: ClassVar[str | None] = None  # these endpoints have no idempotency header
    _content_type: ClassVar[str] = "application/json; charset=utf-8"
    _typed_without_body: ClassVar[bool] = False  # e.g. okr-progress-record-get: Authorization only

    def __init__(
        self,
        app_id: str | None = None,
        app_secret: str | None = None,
        *,
        base_url: str | None = None,
        user_access_token: str | None = None,
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
            base_url=base_url or os.environ.get("FEISHU_BASE_URL") or DEFAULT_BASE_URL,
            options=ClientOptions(
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
        self.app_id = app_id or os.environ.get("FEISHU_APP_ID") or None
        secret = app_secret or os.environ.get("FEISHU_APP_SECRET") or None
        self._app_secret = Secret(secret) if secret else None
        if not (self.app_id and self._app_secret) and not user_access_token:
            raise ConfigurationError(
                "OpenClient needs app_id and app_secret (or FEISHU_APP_ID / FEISHU_APP_SECRET), "
                "or a user_access_token"
            )
        self._tokens: TokenProvider
        self._credential: Credential | None = None
        if user_access_token:
            # This client's own, unless its store shares user tokens (aiofeishu._user_tokens).
            home = user_token_home("open", user_access_token, None, self._binding.store)
            self._tokens = TokenProvider(
                home.store,
                home.key,
                home.identity,
                self._no_refresh,
                initial=(user_access_token, None),
            )
        else:
            identity = f"tenant:{self.app_id}@{origin(self.base_url)}"
            self._tokens = TokenProvider(
                self.store, token_key("open", identity), identity, self._fetch_tenant_token
            )

    def __repr__(self) -> str:
        return (
            f"OpenClient(base_url={self.base_url!r}, app_id={self.app_id!r}, "
            f"app_secret={'***' if self._app_secret else None})"
        )

    def _secrets(self) -> tuple[Secret, ...]:
        found = (self._app_secret, self._tokens.last_token, *self._tokens.retired)
        return tuple(s for s in found if s is not None)

    async def _fetch_tenant_token(self) -> tuple[Secret, float]:
        options = RequestOptions()
        response = await self._execute(
            self._prepare(
                TENANT_TOKEN, {"app_id": self.app_id, "app_secret": self._app_secret}, options
            ),
            options,
        )
        token = response.tenant_access_token
        if isinstance(token, str) and token:
            expire = response.expire
            return Secret(token), float(expire) if expire and expire > 0 else 7200.0
        raise AuthenticationError(
            status=200,
            code=None,
            msg="no tenant_access_token in the response",
            log_id=response.log_id,
            method=TENANT_TOKEN.method,
            path=TENANT_TOKEN.path,
        )

    async def _no_refresh(self) -> tuple[Secret, float]:
        raise AuthenticationError(
            status=401,
            code=None,
            msg="the user_access_token was rejected; pass a fresh one",
            log_id=None,
            method="-",
            path="-",
        )

    def _credential_now(self, endpoint: Endpoint, options: RequestOptions) -> Credential | None:
        if endpoint.auth == "none":
            return None
        token, cached = self._tokens.now(), self._credential
        if token is None or cached is None or cached.token is not token:
            return None  # no token at hand, or a newer one than the credential's
        return cached

    async def _authenticate(self, endpoint: Endpoint, options: RequestOptions) -> Credential:
        if endpoint.auth == "none":
            return Credential(self._tokens.identity, MaskedHeaders())
        token = self._tokens.now() or await self._tokens.get()
        cached = self._credential
        if cached is None or cached.token is not token:  # one Credential per token
            headers = MaskedHeaders({"Authorization": f"Bearer {token.reveal()}"})
            cached = self._credential = Credential(
                self._tokens.identity, headers, self._tokens, token
            )
        return cached
