"""The base client: one request pipeline of named steps, shared by both platforms.

A call goes: build (validate, encode, fill the path: ``_prepare``) → authenticate
(``_authenticate``) → admit (a rate-limit slot from the store: ``_admit``) → send (the
transport) → interpret (decode, or raise the API's error: ``_interpret``) → decide
(renew the token, retry after a wait, or raise: ``_should_renew_token``,
``_should_retry``, ``_retry_wait``). ``_execute`` reads top to bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urljoin

import msgspec

from aiofeishu import _envelope
from aiofeishu._api import NO_OPTIONS, FileUpload, GroupAPI, OptionsInput, RequestOptions
from aiofeishu._auth import TokenProvider
from aiofeishu._build import Prepared, prepare
from aiofeishu._endpoint import Endpoint
from aiofeishu._memory_store import MemoryStore, MemoryTicket, default_store
from aiofeishu._plan import Plan, plan_of
from aiofeishu._secrets import MaskedHeaders, Secret, redact, redact_value
from aiofeishu._store import RatePolicy, Store, Ticket, rate_key
from aiofeishu._transport import (
    AiohttpTransport,
    FilePart,
    Multipart,
    Transport,
    WireReply,
    WireRequest,
    WireStream,
    origin,
)
from aiofeishu.errors import (
    APIError,
    ConfigurationError,
    FeishuConnectionError,
    FeishuError,
    IdempotencyError,
    InvalidResponseError,
    RateLimitError,
    RequestValidationError,
    ServerError,
    UnexpectedRedirectError,
    make_api_error,
    token_rejections,
)

__all__ = ["BaseClient", "ClientOptions", "Credential"]

logger = logging.getLogger("aiofeishu")

RateLimits = Mapping[str, Sequence[tuple[int, float]] | None]  # class → windows (None: unlimited)

# The longest wait a server may ask for before the call gives up and raises RateLimitError
# with .retry_after (a Retry-After of a day must not hold a worker for a day).
MAX_RETRY_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """What ``with_options`` may change: everything but the credentials and the base URL."""

    user_key: str | None = None
    timeout: float = 30.0
    max_retries: int = 3
    retry_backoff: tuple[float, float] = (0.5, 8.0)
    max_retry_wait: float = MAX_RETRY_WAIT
    rate_limit_margin: float = 0.02
    rate_limits: Mapping[str, Sequence[tuple[int, float]] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.max_retries) is not int or self.max_retries < 0:
            raise ConfigurationError("max_retries must be an int >= 0")
        if isinstance(self.timeout, bool) or not 0 < self.timeout < float("inf"):
            raise ConfigurationError("timeout must be a number of seconds > 0")
        if not 0 <= self.rate_limit_margin < 1:
            raise ConfigurationError("rate_limit_margin must be in [0, 1)")
        if self.user_key is not None and any(c in self.user_key for c in "\r\n\0"):
            raise ConfigurationError("user_key contains a line break")


@dataclass(slots=True, repr=False)
class Credential:
    """Who a call is made as: the rate-limit identity, its headers and the token to drop if rejected."""

    identity: str
    headers: MaskedHeaders
    source: TokenProvider | None = None
    token: Secret | None = None
    # ``headers`` plus a Content-Type: what most calls send as they are (made once).
    _with_type: MaskedHeaders | None = None

    def __repr__(self) -> str:
        return f"Credential(identity={self.identity!r})"

    def headers_with_type(self, content_type: str) -> MaskedHeaders:
        sent = self._with_type
        if sent is None or sent.get("Content-Type") != content_type:
            sent = self._with_type = MaskedHeaders(self.headers, **{"Content-Type": content_type})
        return sent


@dataclass(slots=True)
class _Binding:
    """The event loop a client and the clients derived from it run on, the store they share,
    and whether the one owning the session has closed it."""

    loop: asyncio.AbstractEventLoop | None = None
    closed: bool = False
    store: Store | None = None  # None: the loop's default store, looked up on first use


@dataclass(slots=True, repr=False)
class _Call:
    """One logical call across its attempts."""

    prepared: Prepared
    options: RequestOptions
    max_retries: int
    timeout: float
    idempotency_key: str | None
    retry_safe: bool
    plan: Plan  # made before admission (it makes the decoder, which may import models)
    attempt: int = 0

    def __repr__(self) -> str:
        return f"_Call({self.prepared!r}, attempt={self.attempt})"


class BaseClient:
    """Shared machinery of ProjectClient and OpenClient."""

    _platform: ClassVar[str]
    _idempotency_header: ClassVar[str | None] = None
    _content_type: ClassVar[str] = "application/json"
    # Whether a call with no body sends a Content-Type too. Feishu Project's overview lists
    # it as required on every request; Open Platform pages list it only where there is a body.
    _typed_without_body: ClassVar[bool] = True

    def __init__(
        self,
        *,
        base_url: str,
        options: ClientOptions,
        session: Any = None,
        transport: Transport | None = None,
        store: Store | str | None = None,
        proxy: str | None = None,
        trust_env: bool = False,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url must start with http:// or https://, got {base_url!r}"
            )
        if transport is not None and (session is not None or proxy is not None):
            raise ConfigurationError("pass either transport= or session= / proxy=, not both")
        self.base_url = base_url.rstrip("/")
        self._options = options
        self._transport: Transport = transport or AiohttpTransport(
            session, proxy=proxy, trust_env=trust_env
        )
        self._owns_transport = transport is None
        # A store made from a URL is this client's to close; a store object is its owner's.
        self._owns_store = isinstance(store, str)
        if isinstance(store, str):
            from aiofeishu._store import store_from_url

            store = store_from_url(store)
        # Shared with derived clients: one loop, one session, one store.
        self._binding = _Binding(store=store)
        self._token_errors = token_rejections(self._platform)
        # (identity, method, path) → (rate key, policy); per client, as policies follow options.
        self._admissions: dict[tuple[str, str, str], tuple[str, RatePolicy]] = {}
        self._closed = False

    # -- lifecycle and derived clients ----------------------------------------
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client made it (a derived client closes nothing)."""
        self._closed = True
        if self._owns_transport:
            self._binding.closed = True
            await self._transport.aclose()
            if self._owns_store and self._binding.store is not None:
                await self._binding.store.aclose()

    def with_options(self, **changes: Any) -> Self:
        """A client sharing this one's session, tokens and rate windows, with other options
        (``user_key``, ``timeout``, ``max_retries``, ``retry_backoff``, ``max_retry_wait``,
        ``rate_limit_margin``, ``rate_limits``). Closing it leaves this client open."""
        unknown = set(changes) - set(ClientOptions.__slots__)
        if unknown:
            raise ConfigurationError(f"with_options cannot change {sorted(unknown)}")
        derived = copy.copy(self)
        for name, value in list(vars(derived).items()):
            if isinstance(value, GroupAPI):  # cached `client.<group>`s act for this client
                del vars(derived)[name]
        derived._options = replace(self._options, **changes)
        derived._owns_transport = False
        derived._closed = False
        derived._admissions = {}
        return derived

    @property
    def options(self) -> ClientOptions:
        """The options in force (change them with :meth:`with_options`)."""
        return self._options

    @property
    def max_retries(self) -> int:
        return self._options.max_retries

    @property
    def timeout(self) -> float:
        return self._options.timeout

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Descriptors of every endpoint this client serves."""
        import importlib

        return importlib.import_module(f"aiofeishu.{self._platform}.endpoints").ALL  # type: ignore[no-any-return]

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        binding = self._binding
        if binding.loop is None:
            binding.loop = loop
        elif binding.loop is not loop:
            raise FeishuError(
                f"this {type(self).__name__} was first used on another event loop; its session "
                "and rate windows belong to that loop: make one client per event loop"
            )
        if self._closed or binding.closed:
            raise FeishuError(
                f"this {type(self).__name__} is closed"
                + ("" if self._closed else " (the client it was derived from was closed)")
            )

    def store(self) -> Store:
        """The store holding this client's tokens and rate windows."""
        binding = self._binding
        if binding.store is None:
            binding.store = default_store()
        return binding.store

    # -- subclass hooks --------------------------------------------------------
    async def _authenticate(self, endpoint: Endpoint, options: RequestOptions) -> Credential:
        raise NotImplementedError

    def _credential_now(self, endpoint: Endpoint, options: RequestOptions) -> Credential | None:
        """The credential without awaiting when its token is at hand (a coroutine per call
        costs more than the lookup); None: ``_authenticate`` decides."""
        return None

    def _secrets(self) -> tuple[Secret, ...]:
        """Values to mask in excerpts (the client's own credentials)."""
        return ()

    # -- build -----------------------------------------------------------------
    def _prepare(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: RequestOptions
    ) -> Prepared:
        return prepare(endpoint, args, options)

    def _call(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: OptionsInput
    ) -> Awaitable[Any]:
        """Validate now (bad input raises before anything is awaited), send when awaited."""
        resolved = NO_OPTIONS if options is None else RequestOptions.coerce(options)
        return self._execute(prepare(endpoint, args, resolved), resolved)

    def _new_call(self, prepared: Prepared, options: RequestOptions) -> _Call:
        endpoint = prepared.endpoint
        own = self._options
        idem = None
        if endpoint.writes and self._idempotency_header:
            idem = options.idempotency_key or str(uuid.uuid4())
        return _Call(
            prepared,
            options,
            own.max_retries if options.max_retries is None else options.max_retries,
            own.timeout if options.timeout is None else options.timeout,
            idem,
            _retry_safe(prepared, idem) if prepared.files else not endpoint.writes or bool(idem),
            prepared.plan or plan_of(endpoint),
        )

    # -- the pipeline ----------------------------------------------------------
    async def _execute(
        self, prepared: Prepared, options: RequestOptions, *, download: bool = False
    ) -> Any:
        binding = self._binding
        if binding.loop is not asyncio.get_running_loop() or binding.closed or self._closed:
            self._bind_loop()  # the first call, or one that must be refused
        call = self._new_call(prepared, options)
        attempt = self._attempt_download if download else self._attempt
        renewed = False
        while True:
            call.attempt += 1
            credential = self._credential_now(prepared.endpoint, options)
            if credential is None:
                credential = await self._authenticate(prepared.endpoint, options)
            try:
                return await attempt(call, credential)
            except (APIError, FeishuConnectionError, InvalidResponseError) as error:
                failure = error
            if self._should_renew_token(failure, credential, renewed):
                assert credential.source is not None and credential.token is not None
                await credential.source.invalidate(credential.token)
                renewed = True
                call.attempt -= 1  # a renewed token is not a retry of a failure
                continue
            wait = self._retry_wait(call, failure)
            if isinstance(failure, RateLimitError):
                await self.store().cool_down(self._rate_key(call, credential), wait or 0.0)
            if wait is None:
                raise self._with_idempotency_key(call, failure)
            await asyncio.sleep(wait)

    async def _attempt(self, call: _Call, credential: Credential) -> Any:
        ticket = self._admit_now(call, credential) or await self._admit(call, credential)
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        try:
            if call.prepared.endpoint.multipart:
                with contextlib.ExitStack() as opened:  # the files are open while sending
                    request = self._wire_request(call, credential, opened)
                    reply = await self._transport.send(request, ticket.depart)
            else:
                request = self._wire_request(call, credential, None)
                reply = await self._transport.send(request, ticket.depart)
        finally:
            if type(ticket) is MemoryTicket:
                ticket.release_now()  # in process: nothing to await (a coroutine per call)
            else:
                await ticket.release()
        if debug:  # spares building the log's arguments on every call
            self._log(call, reply, started)
        return self._interpret(call, reply)

    def _admit(self, call: _Call, credential: Credential) -> Awaitable[Ticket]:
        """Returns when the call may leave (the store's FIFO per rate key)."""
        store = self._binding.store
        return (store if store is not None else self.store()).admit(
            *self._admission(call, credential)
        )

    def _admit_now(self, call: _Call, credential: Credential) -> Ticket | None:
        """The ticket without awaiting when the in-process store can admit the call at once
        (a coroutine per call costs more than its admission); None: ``_admit`` waits.
        Only the store itself: a wrapper around it must see every admission."""
        store = self._binding.store
        if type(store) is not MemoryStore:
            return None
        return store.admit_now(*self._admission(call, credential))

    def _admission(self, call: _Call, credential: Credential) -> tuple[str, RatePolicy]:
        """The call's rate key (identity and endpoint) and the policy this client applies."""
        endpoint = call.prepared.endpoint
        cache_key = (credential.identity, endpoint.method, endpoint.path)
        found = self._admissions.get(cache_key)
        if found is None:
            if len(self._admissions) > 4096:  # client.request() paths are the caller's
                self._admissions.clear()
            key = rate_key(self._platform, credential.identity, endpoint.key)
            found = self._admissions[cache_key] = (key, self._policy(endpoint))
        return found

    def _rate_key(self, call: _Call, credential: Credential) -> str:
        return self._admission(call, credential)[0]

    def _policy(self, endpoint: Endpoint) -> RatePolicy:
        windows = self._options.rate_limits.get(endpoint.rate_limit, endpoint.windows)
        return RatePolicy(
            windows=tuple(windows or ()),
            concurrency=endpoint.concurrency,
            margin=self._options.rate_limit_margin,
        )

    def _wire_request(
        self, call: _Call, credential: Credential, opened: contextlib.ExitStack | None
    ) -> WireRequest:
        prepared = call.prepared
        if opened is None and not prepared.headers and not call.idempotency_key:
            # Shared, read-only header maps made once per credential.
            if prepared.body is None and not self._typed_without_body:
                headers = credential.headers
            else:
                headers = credential.headers_with_type(self._content_type)
        else:
            headers = self._call_headers(call, credential, opened)
        body = _multipart(prepared, opened) if opened is not None else prepared.body
        return WireRequest(
            prepared.endpoint.method,
            self.base_url + prepared.path,
            prepared.path,
            headers,
            body,
            prepared.query,
            call.timeout,
        )

    def _call_headers(
        self, call: _Call, credential: Credential, opened: contextlib.ExitStack | None
    ) -> MaskedHeaders:
        prepared = call.prepared
        headers = MaskedHeaders(credential.headers)
        if prepared.headers:
            headers.update(prepared.headers)
        # Multipart: aiohttp sets the type with its boundary.
        if opened is None and (prepared.body is not None or self._typed_without_body):
            headers["Content-Type"] = self._content_type
        if call.idempotency_key and self._idempotency_header:
            headers[self._idempotency_header] = call.idempotency_key
        return headers

    def _log(self, call: _Call, reply: WireReply, started: float) -> None:
        logger.debug(
            "%s %s -> %d attempt=%d log_id=%s %.1fms",
            call.prepared.endpoint.method,
            call.prepared.path,
            reply.status,
            call.attempt,
            reply.headers.get("X-Tt-Logid"),
            (time.perf_counter() - started) * 1000,
        )

    # -- interpret -------------------------------------------------------------
    def _interpret(self, call: _Call, reply: WireReply) -> Any:
        """The decoded result, or raise the API's error (or InvalidResponseError).

        The reading happens in ``_outcome``, which returns errors instead of raising them: the
        frame that raises holds no decoded body (a traceback captured with its locals,
        Sentry-style, would show a token that a failing answer carried).
        """
        result = self._plain_success(call, reply)
        if result is not None:
            return result
        outcome = self._outcome(call, reply)
        if isinstance(outcome, FeishuError):
            raise outcome
        return outcome

    def _plain_success(self, call: _Call, reply: WireReply) -> Any:
        """The result of the common answer (2xx, the documented model, code 0), read in one
        step; None leaves the reading to ``_outcome``, which words any problem."""
        plan = call.plan
        if not 200 <= reply.status < 300 or plan.success_member is None:
            return None
        try:
            result = plan.decoder.decode(reply.body)
        except (msgspec.MsgspecError, RecursionError):
            return None
        # The typed envelope's code is an int or None (tests/test_plan.py): 0 or None is success.
        return None if getattr(result, plan.success_member) else self._result(reply, result)

    def _outcome(self, call: _Call, reply: WireReply) -> Any:
        endpoint = call.prepared.endpoint
        if 300 <= reply.status < 400:
            target = reply.headers.get("Location", "")
            return UnexpectedRedirectError(
                status=reply.status,
                location=origin(urljoin(self.base_url + call.prepared.path, target))
                if target
                else "",
                method=endpoint.method,
                path=call.prepared.path,
            )
        if reply.status < 300:
            result = self._decode(call, reply)
            if isinstance(result, FeishuError):
                return result
            if result is not None:
                read = self._read_envelope(call, reply, result, typed=True)
                if isinstance(read, FeishuError):
                    return read
                code, msg, detail = read
                if not code:
                    return self._result(reply, result)
                return self._api_error(call, reply, code, msg, detail)
        probe = self._probe(reply)
        if probe is None:
            if reply.status >= 400:
                return self._api_error(
                    call, reply, None, self._excerpt(reply) or "empty body", None
                )
            return self._invalid(call, reply)("the body is not the API's JSON")
        read = self._read_envelope(call, reply, probe)
        if isinstance(read, FeishuError):
            return read
        code, msg, detail = read
        if not code and reply.status < 400:
            return self._invalid(call, reply)("the body does not match the documented response")
        return self._api_error(call, reply, code, msg, detail)

    @staticmethod
    def _result(reply: WireReply, result: Any) -> Any:
        result.__dict__["_raw"] = reply.body
        result.__dict__["_log_id"] = reply.headers.get("X-Tt-Logid")
        return result

    def _read_envelope(
        self, call: _Call, reply: WireReply, envelope: Any, *, typed: bool = False
    ) -> tuple[int | None, str, Any] | InvalidResponseError:
        try:
            return _envelope.read(call.prepared.endpoint.envelope, envelope, typed=typed)
        except _envelope.BadCode as exc:
            problem = str(exc)
        return self._invalid(call, reply)(problem)  # type: ignore[no-any-return]

    def _decode(self, call: _Call, reply: WireReply) -> Any:
        try:
            return call.plan.decoder.decode(reply.body)
        except msgspec.ValidationError:
            return None
        except msgspec.DecodeError:
            problem = "the body is not JSON"
        except RecursionError:
            problem = "the body is nested too deeply to decode"
        return self._invalid(call, reply)(problem)

    @staticmethod
    def _probe(reply: WireReply) -> _envelope.Probe | None:
        try:
            return _envelope.probe(reply.body)
        except (msgspec.MsgspecError, RecursionError):
            return None

    def _excerpt(self, reply: WireReply, limit: int = 200) -> str:
        text = redact(reply.body[:4096].decode("utf-8", "replace"), self._secrets())
        text = " ".join(text.split())
        return text[:limit] + ("…" if len(text) > limit else "")

    def _invalid(self, call: _Call, reply: WireReply) -> Any:
        def make(message: str) -> InvalidResponseError:
            return InvalidResponseError(
                message,
                status=reply.status,
                excerpt=self._excerpt(reply),
                method=call.prepared.endpoint.method,
                path=call.prepared.path,
            )

        return make

    def _api_error(
        self, call: _Call, reply: WireReply, code: int | None, msg: str, detail: Any
    ) -> APIError:
        log_id = reply.headers.get("X-Tt-Logid")
        if log_id is None and isinstance(detail, dict) and isinstance(detail.get("log_id"), str):
            log_id = detail["log_id"] or None
        return make_api_error(
            self._platform,
            status=reply.status,
            code=code,
            msg=redact(msg, self._secrets()),
            log_id=log_id,
            method=call.prepared.endpoint.method,
            path=call.prepared.path,
            detail=redact_value(detail, self._secrets()),
            retry_after=_server_wait(reply.headers),
        )

    # -- decide ----------------------------------------------------------------
    def _should_renew_token(
        self, failure: FeishuError, credential: Credential, renewed: bool
    ) -> bool:
        return (
            isinstance(failure, APIError)
            and failure.code in self._token_errors
            and credential.source is not None
            and credential.token is not None
            and not renewed
        )

    @staticmethod
    def _should_retry(call: _Call, failure: FeishuError) -> bool:
        if isinstance(failure, IdempotencyError):
            return False
        if isinstance(failure, RateLimitError):
            return True  # refused before processing: safe for writes too
        if isinstance(failure, (ServerError, FeishuConnectionError)):
            return call.retry_safe
        if isinstance(failure, InvalidResponseError) and not isinstance(
            failure, UnexpectedRedirectError
        ):
            return call.retry_safe and failure.status >= 500  # a gateway's HTML 502
        return False

    def _retry_wait(self, call: _Call, failure: FeishuError) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``failure`` now."""
        if call.attempt > call.max_retries or not self._should_retry(call, failure):
            return None
        base, cap = self._options.retry_backoff
        wait = min(cap, base * 2.0 ** (call.attempt - 1)) * random.uniform(0.5, 1.0)
        asked: float | None = failure.retry_after if isinstance(failure, APIError) else None
        if asked is not None:
            # Never longer than the cap nor the call's own timeout: past that, the caller
            # gets RateLimitError with .retry_after and schedules the retry itself.
            if not asked <= min(self._options.max_retry_wait, call.timeout):
                return None
            wait = max(wait, asked) + random.uniform(0, base / 4)
        return wait

    def _with_idempotency_key(self, call: _Call, failure: FeishuError) -> FeishuError:
        if call.idempotency_key is not None:
            failure.idempotency_key = call.idempotency_key
        return failure

    # -- downloads -------------------------------------------------------------
    async def _download(
        self, prepared: Prepared, options: RequestOptions, *, chunk_size: int = 1 << 16
    ) -> AsyncIterator[bytes]:
        """The file's bytes in chunks. A download is chosen by the endpoint's spec; a JSON
        answer is the API's error only when its envelope says so (else it is the file)."""
        stream: WireStream = await self._execute(prepared, options, download=True)
        try:
            if "json" in stream.headers.get("Content-Type", ""):
                head = await stream.read(1 << 20)
                self._raise_if_error(prepared, WireReply(stream.status, stream.headers, head))
                yield head
            async for chunk in stream.chunks(chunk_size):
                yield chunk
        finally:
            await stream.aclose()

    async def _attempt_download(self, call: _Call, credential: Credential) -> WireStream:
        ticket = await self._admit(call, credential)
        try:
            request = self._wire_request(call, credential, None)  # downloads send no files
            stream = await self._transport.open_stream(request, ticket.depart)
        finally:
            await ticket.release()
        if stream.status < 300:
            return stream
        try:
            reply = WireReply(stream.status, stream.headers, await stream.read(1 << 20))
        finally:
            await stream.aclose()
        self._interpret(call, reply)  # raises for any status >= 300
        raise AssertionError("unreachable")

    def _raise_if_error(self, prepared: Prepared, reply: WireReply) -> None:
        probe = self._probe(reply)
        if probe is None:
            return  # a JSON file, or not JSON at all: it is the file
        call = self._new_call(prepared, RequestOptions())
        read = self._read_envelope(call, reply, probe)
        if isinstance(read, FeishuError):
            raise read
        if read[0]:
            raise self._api_error(call, reply, *read)

    # -- the escape hatch ------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        writes: bool | None = None,
        request_options: OptionsInput = None,
    ) -> Any:
        """Call any endpoint, including ones the specs lack, through the same token, user
        key, rate limiter (keyed on ``path``'s template), retries, idempotency
        (``writes=True``: one X-IDEM-UUID reused on retries) and error mapping.

        ``path`` may hold ``:name`` placeholders filled (percent-encoded) from
        ``path_params``. Returns the decoded JSON body.
        """
        from aiofeishu._raw import body_of, raw_call

        options = RequestOptions.coerce(request_options)
        prepared = raw_call(
            self, method, path, path_params=path_params, params=params, json=json, writes=writes
        )
        return body_of(await self._execute(prepared, options))


def _retry_safe(prepared: Prepared, idem_key: str | None) -> bool:
    for value in (prepared.files or {}).values():
        content = value.content if isinstance(value, FileUpload) else value
        if not isinstance(content, (bytes, bytearray, str, os.PathLike)):
            return False  # a stream can be read once
    return not prepared.endpoint.writes or idem_key is not None


def _multipart(prepared: Prepared, opened: contextlib.ExitStack) -> Multipart:
    body = Multipart()
    for key, value in (prepared.form or {}).items():
        text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
        body.fields.append((key, text))
    for key, value in (prepared.files or {}).items():
        filename, content_type = None, None
        if isinstance(value, FileUpload):
            filename, content_type, value = value.filename, value.content_type, value.content
        if isinstance(value, (bytes, bytearray)):
            body.files.append(FilePart(key, filename or key, bytes(value), content_type))
        elif isinstance(value, (str, os.PathLike)):
            path = Path(value)
            handle = _open_file(prepared, key, path, opened)
            body.files.append(FilePart(key, filename or path.name, handle, content_type))
        else:
            body.files.append(FilePart(key, filename or key, value, content_type))
    return body


def _open_file(prepared: Prepared, key: str, path: Path, opened: contextlib.ExitStack) -> Any:
    try:
        return opened.enter_context(path.open("rb"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise RequestValidationError(
        prepared.endpoint.key,
        f"`{key}`: cannot read {str(path)!r}: {reason}",
        f"$.{key}",
        method_name=prepared.method_name,
    )


def _server_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait (Retry-After / x-ogw-ratelimit-reset), if it said."""
    for name in ("Retry-After", "x-ogw-ratelimit-reset"):
        value = headers.get(name)
        if not value:
            continue
        seconds: float | None
        try:
            seconds = float(value)
        except ValueError:
            seconds = _http_date_wait(value)
        if seconds is not None and seconds == seconds:  # not NaN
            return max(0.0, seconds)
    return None


def _http_date_wait(value: str) -> float | None:
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()
