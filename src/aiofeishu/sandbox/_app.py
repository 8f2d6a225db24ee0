"""The sandbox's HTTP side: one aiohttp application serving every endpoint of the specs.

Each request goes through what the real services do, in their order: route → token →
X-USER-KEY → rate limit (sliding windows per token and endpoint) → request validation
against the spec's request model → X-IDEM-UUID replay → the endpoint. Endpoints with state
(``_state.py``) answer from it; the others answer with their doc page's example.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import msgspec
from aiohttp import web

from aiofeishu._endpoint import Endpoint
from aiofeishu._open_client import TENANT_TOKEN
from aiofeishu.error_codes import OPEN, PROJECT
from aiofeishu.errors import validation_path
from aiofeishu.sandbox import _vendor_state  # noqa: F401  (registers its handlers)
from aiofeishu.sandbox._config import SandboxConfig
from aiofeishu.sandbox._state import HANDLERS, ApiFailure, Call, State
from aiofeishu.sandbox._windows import max_in_window

SECRET_HEADERS = {"x-plugin-token", "authorization"}
SECRET_FIELDS = {"plugin_secret", "app_secret", "refresh_token", "code"}
TOKEN_ENDPOINTS = {"authen.plugin_token", "authen.user_plugin_token", "authen.refresh_token"}


@dataclass
class Received:
    """One request as the sandbox saw it (tokens and secrets masked)."""

    method: str
    path: str
    endpoint: str | None
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0
    code: int | None = None


@dataclass
class _Token:
    kind: str  # plugin | virtual | user | tenant
    expires: float
    user_key: str | None = None


@dataclass
class _Route:
    endpoint: Endpoint
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, endpoint: Endpoint) -> _Route:
        parts = [
            f"(?P<{p[1:]}>[^/]+)" if p.startswith(":") else re.escape(p)
            for p in endpoint.path.split("/")
        ]
        return cls(endpoint, re.compile("^" + "/".join(parts) + "$"))


def _all_endpoints() -> list[Endpoint]:
    from aiofeishu.open.endpoints import ALL as OPEN_ALL
    from aiofeishu.project.endpoints import ALL as PROJECT_ALL

    return [*PROJECT_ALL, *OPEN_ALL, TENANT_TOKEN]


def _name(endpoint: Endpoint) -> str:
    return f"{endpoint.group}.{endpoint.name}"


@dataclass
class SandboxApp:
    """The application and everything it remembers. ``Sandbox`` runs it on a port."""

    config: SandboxConfig = field(default_factory=SandboxConfig)
    received: list[Received] = field(default_factory=list)
    rejected_429: int = 0

    def __post_init__(self) -> None:
        self.random = random.Random(self.config.seed)
        self.state = State(self.config)
        self._log_ids = itertools.count(1)
        self._tokens: dict[str, _Token] = {}
        self._current: dict[tuple[str, str], str] = {}  # (kind, credential) → live token
        self._windows: dict[tuple[str, str, float], deque[float]] = defaultdict(deque)
        self._idem: dict[tuple[str, str, str], tuple[int, bytes]] = {}
        self._idem_locks: dict[tuple[str, str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        routes = sorted(
            (_Route.of(e) for e in _all_endpoints()),
            # a literal segment beats a parameter
            key=lambda r: -len(re.sub(r":\w+", "", r.endpoint.path)),
        )
        self._routes: dict[str, list[_Route]] = defaultdict(list)
        for route in routes:
            self._routes[route.endpoint.method].append(route)
        self._examples: dict[str, Any] = {}
        for platform in ("project", "open"):
            module = __import__(f"aiofeishu.{platform}.doc_responses", fromlist=["RESPONSES"])
            self._examples.update(module.RESPONSES)
        self.app = web.Application(client_max_size=200 * 1024 * 1024)  # uploads up to 100 MB
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    # -- helpers for tests ---------------------------------------------------
    def calls(self, endpoint: str) -> list[Received]:
        """What was received for ``"group.name"``, in order."""
        return [r for r in self.received if r.endpoint == endpoint]

    def max_in_window(self, endpoint: str, period: float) -> int:
        """The most ``endpoint`` requests admitted (not refused with 429) within any ``period``."""
        return max_in_window((r.at for r in self.calls(endpoint) if r.status != 429), period)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (as a secret rotation would)."""
        self._tokens.clear()
        self._current.clear()

    # -- dispatch ------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()  # arrival, before the body is read
        # Let the rest of a burst be stamped before handling this one: a request arrives
        # when it comes in, not when the requests ahead of it are done.
        await asyncio.sleep(0)
        route, path_values = self._route(request)
        seen = Received(
            request.method,
            request.path,
            _name(route.endpoint) if route else None,
            dict(request.query),
            {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in request.headers.items()},
            None,
            now,
        )
        self.received.append(seen)
        if route is None:
            return self._finish(seen, web.json_response({"msg": "no such endpoint"}, status=404))
        endpoint = route.endpoint
        try:
            response = await self._handle(request, endpoint, path_values, seen, now)
        except ApiFailure as failure:
            seen.code = failure.code
            response = self._failure(endpoint, failure)
        if self.config.faults.latency:
            await asyncio.sleep(self.config.faults.latency)
        return self._finish(seen, response)

    def _route(self, request: web.Request) -> tuple[_Route | None, dict[str, str]]:
        path = request.rel_url.raw_path
        for route in self._routes.get(request.method, ()):
            match = route.pattern.match(path)
            if match:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None, {}

    def _finish(self, seen: Received, response: web.StreamResponse) -> web.StreamResponse:
        seen.status = response.status
        return response

    async def _handle(
        self,
        request: web.Request,
        endpoint: Endpoint,
        path_values: dict[str, str],
        seen: Received,
        now: float,
    ) -> web.StreamResponse:
        name = _name(endpoint)
        args, files = await self._arguments(request, endpoint, path_values)
        seen.body = _masked(args)
        if endpoint is TENANT_TOKEN or name in TOKEN_ENDPOINTS:
            return self._json(self._issue_token(name, args, now))
        token, info = self._authenticate(request, endpoint, now)
        faults = self.config.faults
        if faults.server_error and self.random.random() < faults.server_error:
            raise ApiFailure(50006 if endpoint.platform == "project" else 1009999, status=500)
        self._admit(token, endpoint, now)
        call = self._validated(endpoint, args, files)
        call.user_key = request.headers.get("X-USER-KEY") or info.user_key
        idem = request.headers.get("X-IDEM-UUID") if endpoint.writes else None
        if not idem:
            return self._answer(endpoint, call)
        key = (token, endpoint.key, idem)
        async with self._idem_locks[key]:  # a retry racing its original waits for it
            if key in self._idem:
                status, body = self._idem[key]
                return web.Response(status=status, body=body, content_type="application/json")
            response = self._answer(endpoint, call)
            if response.status < 500:
                assert isinstance(response, web.Response) and response.body is not None
                self._idem[key] = (response.status, bytes(response.body))  # type: ignore[arg-type]
        dropped = faults.drop_after_commit and self.random.random() < faults.drop_after_commit
        if dropped and request.transport is not None:
            request.transport.close()  # committed, but the caller never hears back
        return response

    def _answer(self, endpoint: Endpoint, call: Call) -> web.StreamResponse:
        handler = HANDLERS.get(_name(endpoint))
        if handler is not None:
            result = handler(self.state, call)
            if isinstance(result, web.StreamResponse):
                return result
            data, extra = result if isinstance(result, tuple) else (result, {})
            return self._json(self._envelope(endpoint, data, extra))
        example = self._examples.get(_name(endpoint))
        if example is not None:
            return self._json(example)
        return self._json(self._envelope(endpoint, *_empty(endpoint)))

    # -- the rules -----------------------------------------------------------
    def _authenticate(
        self, request: web.Request, endpoint: Endpoint, now: float
    ) -> tuple[str, _Token]:
        if endpoint.platform == "open":
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").strip()
            if not token:
                raise ApiFailure(99991661, "Missing access token for authorization", status=400)
            info = self._tokens.get(token)
            if info is None or info.kind != "tenant" or info.expires <= now:
                raise ApiFailure(99991663, "Invalid access token for authorization", status=400)
            return token, info
        token = request.headers.get("X-PLUGIN-TOKEN", "")
        if not token:
            raise ApiFailure(10021)
        info = self._tokens.get(token)
        if info is None or info.kind == "tenant" or info.expires <= now:
            raise ApiFailure(10022)
        if (
            info.kind != "user"
            and endpoint.user_key == "required"
            and not request.headers.get("X-USER-KEY")
        ):
            raise ApiFailure(20039)
        return token, info

    def _admit(self, token: str, endpoint: Endpoint, now: float) -> None:
        faults = self.config.faults
        spurious = bool(faults.rate_limit) and self.random.random() < faults.rate_limit
        windows = self.config.scaled(endpoint.windows) if self.config.rate_limits else ()
        full = spurious
        for limit, period in windows:
            window = self._windows[(token, endpoint.key, period)]
            while window and window[0] <= now - period:
                window.popleft()
            full = full or len(window) >= limit
        if full:
            self.rejected_429 += 1
            if endpoint.platform == "open":
                raise ApiFailure(99991400, "request trigger frequency limit", status=429)
            raise ApiFailure(10429, status=429)
        for _limit, period in windows:
            self._windows[(token, endpoint.key, period)].append(now)

    async def _arguments(
        self, request: web.Request, endpoint: Endpoint, path_values: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        args: dict[str, Any] = dict(path_values)
        args.update({k: v for k, v in request.query.items() if k in endpoint.query_params})
        files: dict[str, tuple[str, bytes]] = {}
        if endpoint.multipart and request.content_type.startswith("multipart/"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = (value.filename, value.file.read())
                else:
                    args[key] = value
            return args, files
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiFailure(_bad_request_code(endpoint), "body is not JSON") from None
            if not isinstance(body, dict):
                raise ApiFailure(_bad_request_code(endpoint), "body must be a JSON object")
            args.update(body)
        return args, files

    def _validated(
        self, endpoint: Endpoint, args: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Call:
        fields = _field_types(endpoint.request_type)
        loose = {*endpoint.path_params, *endpoint.query_params}
        if endpoint.multipart:
            loose |= set(endpoint.body_params)
        values: dict[str, Any] = {}
        for key, value in args.items():
            if key in loose and key in fields and isinstance(value, str):
                value = _from_text(value, fields[key])
            values[key] = value
        missing_files = [f for f in endpoint.file_params if f not in files]
        if missing_files:
            raise ApiFailure(20005, f"Missing Param: {missing_files[0]}")
        try:
            struct = msgspec.convert(
                {**values, **{k: "<file>" for k in files}}, endpoint.request_type
            )
        except msgspec.ValidationError as exc:
            raise ApiFailure(*_validation_failure(endpoint, str(exc))) from None
        plain = msgspec.to_builtins(struct)
        for key in files:
            plain.pop(key, None)
        return Call(endpoint, plain, files)

    def _issue_token(self, name: str, args: dict[str, Any], now: float) -> Any:
        cfg = self.config
        if name == "auth.tenant_access_token":
            if args.get("app_id") != cfg.app_id or args.get("app_secret") != cfg.app_secret:
                return {"code": 10014, "msg": "app secret invalid"}
            token, ttl = self._live_token("tenant", cfg.app_id, now)
            return {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": ttl}
        if name == "authen.plugin_token":
            if (
                args.get("plugin_id") != cfg.plugin_id
                or args.get("plugin_secret") != cfg.plugin_secret
            ):
                return _authen_error(10211, "Token Info Is Invalid")
            kind = "virtual" if args.get("type") == 1 else "plugin"
            token, ttl = self._live_token(kind, cfg.plugin_id, now)
            return {
                "data": {"token": token, "expire_time": ttl},
                "error": {"code": 0, "msg": "success"},
            }
        if name == "authen.user_plugin_token":
            code = args.get("code")
            if not isinstance(code, str) or not code or code == "invalid":
                return _authen_error(10210, "code invalid")
            return self._user_token(cfg.user_key, now)
        refresh = args.get("refresh_token")
        owner = self.state.refresh_tokens.pop(refresh, None) if isinstance(refresh, str) else None
        if owner is None:
            return _authen_error(10211, "Token Info Is Invalid")
        return self._user_token(owner, now)

    def _live_token(self, kind: str, credential: str, now: float) -> tuple[str, int]:
        """The same token while it is valid (as the docs promise), a new one after."""
        current = self._current.get((kind, credential))
        info = self._tokens.get(current) if current else None
        if current and info and info.expires > now:
            return current, max(1, int(info.expires - now))
        token = f"{kind[0]}-{self.config.seed}-{self.random.getrandbits(64):016x}"
        self._tokens[token] = _Token(kind, now + self.config.token_ttl)
        self._current[(kind, credential)] = token
        return token, self.config.token_ttl

    def _user_token(self, user_key: str, now: float) -> Any:
        token = f"u-{self.config.seed}-{self.random.getrandbits(64):016x}"
        refresh = f"r-{self.config.seed}-{self.random.getrandbits(64):016x}"
        self._tokens[token] = _Token("user", now + self.config.token_ttl, user_key)
        self.state.refresh_tokens[refresh] = user_key
        return {
            "data": {
                "token": token,
                "expire_time": self.config.token_ttl,
                "refresh_token": refresh,
                "refresh_token_expire_time": 14 * 86400,
                "user_key": user_key,
                "saas_tenant_key": "sandbox-tenant",
            },
            "error": {"code": 0, "msg": "success"},
        }

    # -- answers -------------------------------------------------------------
    def _log_id(self) -> str:
        return f"{20261121000000 + self.config.seed:014d}{next(self._log_ids):010d}"

    def _json(self, payload: Any, *, status: int = 200, log_id: str | None = None) -> web.Response:
        return web.Response(
            status=status,
            body=msgspec.json.encode(payload),
            content_type="application/json",
            headers={"X-Tt-Logid": log_id or self._log_id()},
        )

    def _envelope(self, endpoint: Endpoint, data: Any, extra: dict[str, Any]) -> Any:
        if endpoint.platform == "open":
            return {"code": 0, "msg": "success", "data": data, **extra}
        return {"err_code": 0, "err_msg": "", "err": {}, "data": data, **extra}

    def _failure(self, endpoint: Endpoint, failure: ApiFailure) -> web.Response:
        facts = (OPEN if endpoint.platform == "open" else PROJECT).get(failure.code)
        status = failure.status or (facts[0] if facts and facts[0] else 400)
        msg = failure.msg or (facts[2][0] if facts and facts[2] else "error")
        log_id = self._log_id()
        if endpoint.platform == "open":
            payload: Any = {"code": failure.code, "msg": msg, "error": {"log_id": log_id}}
        else:
            payload = {
                "data": None,
                "err_code": failure.code,
                "err_msg": msg,
                "err": {"code": failure.code, "msg": msg, "log_id": log_id},
            }
        return self._json(payload, status=status, log_id=log_id)


# -- small pure helpers ------------------------------------------------------------------


def _authen_error(code: int, msg: str) -> Any:
    return {"data": None, "error": {"code": code, "msg": msg}}


def _masked(args: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k in SECRET_FIELDS else v) for k, v in args.items()}


_FIELD_TYPES: dict[type[Any], dict[str, Any]] = {}


def _field_types(request_type: type[Any]) -> dict[str, Any]:
    found = _FIELD_TYPES.get(request_type)
    if found is None:
        found = _FIELD_TYPES[request_type] = {
            f.encode_name: f.type for f in msgspec.structs.fields(request_type)
        }
    return found


def _from_text(value: str, tp: Any) -> Any:
    """Path, query and form values arrive as text; read them as their declared type."""
    try:
        return msgspec.convert(value, tp, strict=False)
    except msgspec.ValidationError:
        pass
    try:
        return json.loads(value)  # a list or object sent as JSON text in a form
    except ValueError:
        return value  # let validation name it


def _bad_request_code(endpoint: Endpoint) -> int:
    if endpoint.platform == "project":
        return 20006
    for code in endpoint.errors:
        facts = OPEN.get(code)
        if facts and facts[1] == "bad_request":
            return code
    return 1001001


def _validation_failure(endpoint: Endpoint, message: str) -> tuple[int, str]:
    """A msgspec validation message → the docs' code for it."""
    where = validation_path(message) or "$"
    if endpoint.platform == "open":
        return _bad_request_code(endpoint), f"invalid parameters: {message}"
    if message.startswith("Object missing required field"):
        return 20005, f"Missing Param: {message}"
    if "length <=" in message and where.endswith("work_item_ids"):
        return 20028, f"Workitem Ids Limit 50: {message}"
    if where.endswith("page_size") and ("<=" in message or ">=" in message):
        return 20002, f"Page Size Limit: {message}"
    return 20006, f"Invalid Param: {message}"


def _empty(endpoint: Endpoint) -> tuple[Any, dict[str, Any]]:
    """A success answer for an endpoint with no example and no state: empty but well-formed."""
    page = endpoint.pagination
    if page is None:
        return None, {}
    if page.items == "data":
        extra = {"pagination": {"page_num": 1, "page_size": 0, "total": 0}} if page.total else {}
        return [], extra
    data: dict[str, Any] = {}
    for dotted in filter(None, (page.items, page.has_more)):
        parts = dotted.split(".")[1:]
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = [] if dotted == page.items else False
    return data, {}
