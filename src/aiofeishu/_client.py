"""The base client: one aiohttp session, the retry loop, limits, errors and decoding."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import random
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
import msgspec

from aiofeishu._api import FileUpload, RequestOptions
from aiofeishu._auth import TokenSource
from aiofeishu._base import dec_hook, enc_hook
from aiofeishu._endpoint import Endpoint
from aiofeishu._ratelimit import SlidingWindowLimiter, Slot
from aiofeishu.errors import (
    APIError,
    FeishuConnectionError,
    FeishuTimeoutError,
    IdempotencyError,
    InvalidResponseError,
    RateLimitError,
    RequestValidationError,
    ServerError,
    make_api_error,
    validation_path,
)

__all__ = ["BaseClient", "Credential", "Prepared"]

logger = logging.getLogger("aiofeishu")

RateLimits = Mapping[
    str, Sequence[tuple[int, float]] | None
]  # rate class → windows (None: unlimited)


# Prepared and Credential are made on every call, so not frozen: a frozen dataclass's
# __init__ sets each field through object.__setattr__, about four times the cost.
@dataclass(slots=True)
class Prepared:
    """A validated call: everything needed to send it (and send it again). Treat as read-only."""

    endpoint: Endpoint
    path: str
    query: dict[str, str] | None
    body: bytes | None
    form: dict[str, Any] | None
    files: dict[str, Any] | None


@dataclass(slots=True)
class Credential:
    """Who a call is made as: the rate-limit identity, its headers and the token to drop if rejected."""

    identity: str
    headers: dict[str, str]
    source: TokenSource | None = None
    token: str | None = None


class _Envelope(msgspec.Struct):
    # Read when a body does not fit the success model (error bodies usually don't).
    err_code: int | None = None
    err_msg: str | None = None
    err: Any = None
    error: Any = None
    code: int | None = None
    msg: str | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope, strict=False)
_decoders: dict[tuple[str, str], msgspec.json.Decoder[Any]] = {}
_DEFAULT_OPTIONS = RequestOptions()


def _decoder(endpoint: Endpoint) -> msgspec.json.Decoder[Any]:
    key = (endpoint.platform, endpoint.response_type_name)
    decoder = _decoders.get(key)
    if decoder is None:
        decoder = _decoders[key] = msgspec.json.Decoder(
            endpoint.response_type, dec_hook=dec_hook, strict=False
        )
    return decoder


@functools.lru_cache(maxsize=32)
def _client_timeout(total: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total)


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return " ".join(text.split()) + ("…" if len(body) > limit else "")


# The rate-limit slot of the call the current task is sending (see _SlotConnector).
_sending: contextvars.ContextVar[Slot | None] = contextvars.ContextVar(
    "aiofeishu_sending", default=None
)


class _SlotConnector(aiohttp.TCPConnector):
    """Marks the call's rate-limit slot as sent once its connection is ready.

    Windows count from when a request left, not from when it was admitted (a cold pool
    takes tens of ms to connect); the headers go out right after ``connect`` returns.
    A connector hook rather than an aiohttp TraceConfig: tracing costs every request
    about 15 µs of CPU (five signal dispatches), this costs a context-variable lookup.
    """

    async def connect(self, req: Any, *args: Any, **kwargs: Any) -> Any:
        connection = await super().connect(req, *args, **kwargs)
        slot = _sending.get()
        if slot is not None:
            slot.mark_sent()
        return connection


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


class BaseClient:
    """Shared machinery of ProjectClient and OpenClient (one aiohttp session per client)."""

    _platform: ClassVar[str]
    _token_error_codes: ClassVar[frozenset[int]]
    _idempotency_header: ClassVar[str | None] = None
    _content_type: ClassVar[str] = "application/json"

    def __init__(
        self,
        *,
        base_url: str,
        session: aiohttp.ClientSession | None,
        max_retries: int,
        timeout: float,
        rate_limits: RateLimits | None,
        rate_limit_margin: float,
        retry_backoff: tuple[float, float] = (0.5, 8.0),
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.timeout = timeout
        self.retry_backoff = retry_backoff
        self._session = session
        self._owns_session = session is None
        self._rate_overrides = dict(rate_limits or {})
        self._rate_margin = rate_limit_margin
        self._limiters: dict[tuple[str, str, str], SlidingWindowLimiter] = {}

    # -- lifecycle -------------------------------------------------------------
    async def __aenter__(self) -> Any:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise FeishuConnectionError("the aiohttp session passed to this client is closed")
            self._session = aiohttp.ClientSession(connector=_SlotConnector())
        return self._session

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Descriptors of every endpoint this client serves."""
        import importlib

        return importlib.import_module(f"aiofeishu.{self._platform}.endpoints").ALL  # type: ignore[no-any-return]

    # -- subclass hooks --------------------------------------------------------
    async def _credential(self, endpoint: Endpoint, options: RequestOptions) -> Credential:
        raise NotImplementedError

    def _envelope_code(self, env: _Envelope) -> tuple[int | None, str, Any]:
        raise NotImplementedError

    # -- preparing -------------------------------------------------------------
    def _prepare(self, endpoint: Endpoint, args: Mapping[str, Any]) -> Prepared:
        values = {k: v for k, v in args.items() if v is not msgspec.UNSET}
        files = {k: values.pop(k) for k in endpoint.file_params if k in values}
        for name, value in files.items():
            if not isinstance(
                value, (str, os.PathLike, bytes, bytearray, FileUpload, AsyncIterable)
            ):
                raise RequestValidationError(
                    endpoint.key,
                    f"`{name}` must be a path, bytes, an async byte stream or FileUpload, got {type(value).__name__}",
                    f"$.{name}",
                )
        try:
            plain: dict[str, Any] = msgspec.to_builtins(values, enc_hook=enc_hook)
        except (TypeError, NotImplementedError) as exc:
            raise RequestValidationError(endpoint.key, str(exc)) from None
        try:
            checked = {**plain, **dict.fromkeys(files, "<file>")} if files else plain
            msgspec.convert(checked, endpoint.request_type)
        except msgspec.ValidationError as exc:
            raise RequestValidationError(
                endpoint.key, str(exc), validation_path(str(exc))
            ) from None
        path = endpoint.path
        for name in endpoint.path_params:
            path = path.replace(f":{name}", quote(str(plain[name]), safe=""))
        query = {k: _query_value(plain[k]) for k in endpoint.query_params if k in plain} or None
        body_values = {k: plain[k] for k in endpoint.body_params if k in plain and k not in files}
        if endpoint.multipart:
            return Prepared(endpoint, path, query, None, body_values, files)
        body: bytes | None = None
        if body_values or endpoint.method in ("POST", "PUT", "PATCH"):
            body = msgspec.json.encode(body_values)
        return Prepared(endpoint, path, query, body, None, None)

    # -- sending ---------------------------------------------------------------
    def _limiter(self, identity: str, endpoint: Endpoint) -> SlidingWindowLimiter:
        key = (identity, endpoint.method, endpoint.path)
        limiter = self._limiters.get(key)
        if limiter is None:
            windows = self._rate_overrides.get(endpoint.rate_limit, endpoint.windows)
            limiter = self._limiters[key] = SlidingWindowLimiter(
                windows or (), margin=self._rate_margin
            )
        return limiter

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base, cap = self.retry_backoff
        delay: float = min(cap, base * (2 ** (attempt - 1))) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after) + random.uniform(0, base / 4)
        return delay

    def _form(self, prepared: Prepared) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for key, value in (prepared.form or {}).items():
            form.add_field(
                key, value if isinstance(value, str) else msgspec.json.encode(value).decode()
            )
        for key, value in (prepared.files or {}).items():
            filename, content_type = None, None
            if isinstance(value, FileUpload):
                filename, content_type, value = value.filename, value.content_type, value.content
            if isinstance(value, (str, os.PathLike)):
                path = Path(value)
                form.add_field(
                    key, path.open("rb"), filename=filename or path.name, content_type=content_type
                )
            elif isinstance(value, (bytes, bytearray)):
                form.add_field(
                    key, bytes(value), filename=filename or key, content_type=content_type
                )
            else:
                form.add_field(key, value, filename=filename or key, content_type=content_type)
        return form

    def _retry_safe(self, prepared: Prepared, idem_key: str | None) -> bool:
        if prepared.files and any(
            isinstance(v, AsyncIterable)
            or (isinstance(v, FileUpload) and isinstance(v.content, AsyncIterable))
            for v in (prepared.files or {}).values()
        ):
            return False  # a stream can be read once
        return not prepared.endpoint.writes or (
            idem_key is not None and self._idempotency_header is not None
        )

    async def _send(self, prepared: Prepared, options: RequestOptions | None) -> Any:
        return await self._run(prepared, options or _DEFAULT_OPTIONS, stream=False)

    async def _stream(
        self, prepared: Prepared, options: RequestOptions | None, *, chunk_size: int = 1 << 16
    ) -> AsyncIterator[bytes]:
        response: aiohttp.ClientResponse = await self._run(
            prepared, options or _DEFAULT_OPTIONS, stream=True
        )
        try:
            async for chunk in response.content.iter_chunked(chunk_size):
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FeishuConnectionError(
                f"{prepared.endpoint.method} {prepared.path}: download interrupted: {exc}"
            ) from exc
        finally:
            response.release()

    async def _run(self, prepared: Prepared, options: RequestOptions, *, stream: bool) -> Any:
        endpoint = prepared.endpoint
        max_retries = self.max_retries if options.max_retries is None else options.max_retries
        timeout = self.timeout if options.timeout is None else options.timeout
        idem_key = options.idempotency_key
        if idem_key is None and endpoint.writes and self._idempotency_header:
            idem_key = str(uuid.uuid4())
        retry_safe = self._retry_safe(prepared, idem_key)
        url = self.base_url + prepared.path
        attempt = 0
        token_renewed = False
        while True:
            attempt += 1
            credential = await self._credential(endpoint, options)
            headers = dict(credential.headers)
            if not prepared.endpoint.multipart:
                headers["Content-Type"] = self._content_type
            if idem_key and endpoint.writes and self._idempotency_header:
                headers[self._idempotency_header] = idem_key
            slot = await self._limiter(credential.identity, endpoint).acquire()
            data: Any = self._form(prepared) if endpoint.multipart else prepared.body
            started = time.perf_counter()
            try:
                status, resp_headers, body, raw = await self._transport(
                    endpoint.method, url, headers, data, prepared.query, timeout, stream, slot
                )
            except FeishuConnectionError as exc:
                logger.debug(
                    "%s %s failed: %s (attempt %d)", endpoint.method, prepared.path, exc, attempt
                )
                if retry_safe and attempt <= max_retries:
                    await asyncio.sleep(self._backoff(attempt, None))
                    continue
                raise
            elapsed = (time.perf_counter() - started) * 1000
            log_id = resp_headers.get("X-Tt-Logid")
            if raw is not None:  # a download that succeeded: hand over the open response
                logger.debug(
                    "%s %s -> %d attempt=%d log_id=%s %.1fms (stream)",
                    endpoint.method,
                    prepared.path,
                    status,
                    attempt,
                    log_id,
                    elapsed,
                )
                return raw
            result = self._interpret(prepared, status, resp_headers, body, log_id)
            if logger.isEnabledFor(logging.DEBUG):  # spares building the arguments on every call
                logger.debug(
                    "%s %s -> %d attempt=%d log_id=%s %.1fms%s",
                    endpoint.method,
                    prepared.path,
                    status,
                    attempt,
                    log_id if log_id else getattr(result, "log_id", None),
                    elapsed,
                    f" code={result.code}" if isinstance(result, APIError) else "",
                )
            if not isinstance(result, APIError):
                return result
            if (
                result.code in self._token_error_codes
                and credential.source is not None
                and not token_renewed
            ):
                credential.source.invalidate(credential.token or "")
                token_renewed = True
                attempt -= 1  # a renewed token is not a retry of a failure
                continue
            if self._should_retry(result, retry_safe) and attempt <= max_retries:
                await asyncio.sleep(self._backoff(attempt, result.retry_after))
                continue
            raise result

    @staticmethod
    def _should_retry(error: APIError, retry_safe: bool) -> bool:
        if isinstance(error, IdempotencyError):
            return False
        if isinstance(error, RateLimitError):
            return True  # refused before processing: safe for writes too
        return isinstance(error, ServerError) and retry_safe

    async def _transport(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: Any,
        query: dict[str, str] | None,
        timeout: float,
        stream: bool,
        slot: Slot | None = None,
    ) -> tuple[int, Mapping[str, str], bytes, aiohttp.ClientResponse | None]:
        session = self._ensure_session()
        sending = _sending.set(slot)
        try:
            response = await session.request(
                method,
                url,
                headers=headers,
                data=data,
                params=query,
                timeout=_client_timeout(timeout),
            )
            if (
                stream
                and response.status == 200
                and "json" not in response.headers.get("Content-Type", "")
            ):
                return (
                    response.status,
                    response.headers,
                    b"",
                    response,
                )  # _stream reads and releases it
            try:
                body = await response.read()
            finally:
                response.release()
            return response.status, response.headers, body, None
        except TimeoutError as exc:
            path = url[len(self.base_url) :]
            raise FeishuTimeoutError(f"{method} {path}: no response within {timeout:g}s") from exc
        except aiohttp.ClientError as exc:
            path = url[len(self.base_url) :]
            raise FeishuConnectionError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        finally:
            _sending.reset(sending)
            if slot is not None:
                # Without our connector (a caller's session) or when sending failed, the
                # request's end is the latest it can have left: the window counts from there.
                slot.mark_sent()

    def _interpret(
        self,
        prepared: Prepared,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        log_id: str | None,
    ) -> Any:
        endpoint = prepared.endpoint
        response: Any = None
        try:
            response = _decoder(endpoint).decode(body) if status < 400 else None
        except msgspec.ValidationError:
            response = None
        except msgspec.DecodeError:
            raise InvalidResponseError(
                "the body is not JSON",
                status=status,
                excerpt=_excerpt(body),
                method=endpoint.method,
                path=prepared.path,
            ) from None
        if response is not None:
            code, msg, detail = self._envelope_code(response)  # type: ignore[arg-type]
            if not code:
                response.__dict__["_raw"] = body
                return response
        else:
            try:
                env = _envelope_decoder.decode(body)
            except msgspec.MsgspecError:
                if status >= 400:
                    return self._error(
                        prepared,
                        status,
                        None,
                        _excerpt(body) or "empty body",
                        log_id,
                        None,
                        headers,
                    )
                raise InvalidResponseError(
                    "the body is not the API's JSON",
                    status=status,
                    excerpt=_excerpt(body),
                    method=endpoint.method,
                    path=prepared.path,
                ) from None
            code, msg, detail = self._envelope_code(env)
            if not code and status < 400:
                raise InvalidResponseError(
                    "the body does not match the documented response",
                    status=status,
                    excerpt=_excerpt(body),
                    method=endpoint.method,
                    path=prepared.path,
                )
        if log_id is None and isinstance(detail, dict):
            log_id = detail.get("log_id") or None
        return self._error(prepared, status, code, msg, log_id, detail, headers)

    def _error(
        self,
        prepared: Prepared,
        status: int,
        code: int | None,
        msg: str,
        log_id: str | None,
        detail: Any,
        headers: Mapping[str, str],
    ) -> APIError:
        retry_after: float | None = None
        for name in ("Retry-After", "x-ogw-ratelimit-reset"):
            value = headers.get(name)
            if value:
                try:
                    retry_after = max(0.0, float(value))
                    break
                except ValueError:
                    pass
        return make_api_error(
            self._platform,
            status=status,
            code=code,
            msg=msg,
            log_id=log_id,
            method=prepared.endpoint.method,
            path=prepared.path,
            detail=detail,
            retry_after=retry_after,
        )
