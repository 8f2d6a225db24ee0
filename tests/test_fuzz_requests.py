"""Request fuzz over every endpoint of both clients: bad arguments are refused unsent.

For each endpoint, valid arguments are synthesised from its request model
(tests/endpoint_calls.py) and then spoiled one member at a time: a wrong JSON kind (at the
top and inside nested members), bytes for a str, integers beyond int64, NaN / infinity, an
unknown nested member, a required argument passed as UNSET, and dot segments in every path
parameter. Each must raise RequestValidationError naming the method, the endpoint and the
member, with nothing on the wire (not even a token fetch).

Missing and unknown keyword arguments are the Python signature's business: TypeError, as
for any keyword-only function (mypy reports them in user code); nothing is sent either.

Traversal-like strings in a str path parameter (``../x``, ``a/b``, ``%2e%2e``, …) may be
refused or sent percent-encoded; when sent, the path the transport saw, and the path aiohttp
would put on the wire (yarl normalises dot segments and decodes %2e), must keep the
endpoint's route: the same segment count, the same literal segments, the value in its own
segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import msgspec
import pytest
from msgspec import inspect as mi
from yarl import URL

from aiofeishu import FeishuError, RequestOptions, RequestValidationError
from aiofeishu._endpoint import Endpoint
from aiofeishu._transport import WireReply, WireRequest
from tests.endpoint_calls import (
    ALL_ENDPOINTS,
    baseline,
    client_for,
    endpoint_id,
    field_types,
    fields_of,
    invoke,
    leaves,
    open_client,
    project_client,
    replaced,
    valid_value,
    wrong_type,
)
from tests.mock_transport import MockTransport, json_reply, ok
from tests.scripted_server import Answer, Arrival, ScriptedServer, token_answer

INT64_MAX = 2**63 - 1
DOT_SEGMENTS = (".", "..", "")
TRAVERSALS = (
    "../x",
    "../../open_api/work_item/create",
    "a/b",
    "x/..",
    "./x",
    "%2e%2e",
    "%2E%2E",
    "..%2f",
    ".%2e",
    "..\\x",
    "%2F",
    "?q=1",
    "#frag",
    "a\r\nX-Evil: 1",
    " ",
    "…",
)


# --------------------------------------------------------------------------------------------
# A transport answering a success in the endpoint's own envelope


def success(endpoint: Endpoint) -> WireReply:
    if endpoint.download:
        return WireReply(200, {"Content-Type": "application/octet-stream"}, b"file-bytes")
    if endpoint.envelope == "authen":
        data = {"token": "t-fuzz", "expire_time": 7200, "refresh_token": "r-fuzz"}
        return json_reply({"data": data, "error": {"code": 0, "msg": "success"}})
    if endpoint.envelope == "open":
        return json_reply({"code": 0, "msg": "ok", "data": {}})
    return ok(None)


@dataclass
class Recorder:
    """The MockTransport handler: answers a success, keeps every WireRequest it was given."""

    endpoint: Endpoint
    requests: list[WireRequest]

    def __call__(self, request: WireRequest) -> WireReply:
        self.requests.append(request)
        return success(self.endpoint)


def refusing(request: WireRequest) -> WireReply:
    raise AssertionError(f"a refused call reached the transport: {request!r}")


def segments(path: str) -> list[str]:
    return path.split("?")[0].split("/")


def assert_route_kept(endpoint: Endpoint, path: str, values: dict[str, Any]) -> None:
    """``path`` is ``endpoint.path`` with each ``:name`` in its own segment, literals unchanged."""
    template = segments(endpoint.path)
    sent = segments(path)
    assert len(sent) == len(template), f"{path!r} has another segment count than {endpoint.path}"
    for expected, got in zip(template, sent, strict=True):
        if expected.startswith(":"):
            assert unquote(got) == str(values[expected[1:]]), (expected, got)
            assert got not in (".", ".."), f"a dot segment reached the wire in {path!r}"
        else:
            assert got == expected, f"literal segment {expected!r} became {got!r} in {path!r}"


# --------------------------------------------------------------------------------------------
# The cases, derived from the request models


@dataclass(frozen=True)
class Case:
    endpoint: Endpoint
    kind: str
    where: str  # the member spoiled: `$.name` or a nested path
    kwargs: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{endpoint_id(self.endpoint)}-{self.kind}-{self.where}"


def _with(args: dict[str, Any], name: str, keys: tuple[str | int, ...], new: Any) -> dict[str, Any]:
    return {**args, name: replaced(args[name], keys, new)}


def _full_args(endpoint: Endpoint) -> dict[str, Any]:
    """The baseline plus a valid value for every optional member, so each one gets spoiled."""
    args = baseline(endpoint)
    for f in fields_of(endpoint):
        if f.name not in args and f.name not in endpoint.file_params:
            args[f.name] = valid_value(f.type)
    return args


def _spoilers(info: mi.Type) -> list[tuple[str, Any]]:
    """(kind, bad value) pairs for a scalar member of type ``info``."""
    spoilers: list[tuple[str, Any]] = []
    wrong = wrong_type(info)
    if wrong is not None:
        spoilers.append(("wrong-type", wrong))
    if isinstance(info, mi.StrType):
        spoilers.append(("bytes-for-str", b"abc"))
    if isinstance(info, mi.IntType):
        spoilers += [("beyond-int64", INT64_MAX + 1), ("beyond-int64-neg", -INT64_MAX - 2)]
    if isinstance(info, mi.FloatType):
        spoilers.append(("infinity", float("inf")))
    return spoilers


def _member_cases(endpoint: Endpoint, args: dict[str, Any]) -> list[Case]:
    cases = []
    types = field_types(endpoint)
    for name, value in args.items():
        if name in endpoint.file_params:
            cases.append(Case(endpoint, "file-of-wrong-type", f"$.{name}", {**args, name: 12345}))
            continue
        cases.append(Case(endpoint, "nan", f"$.{name}", {**args, name: float("nan")}))
        for leaf in leaves(name, types[name], value):
            for kind, bad in _spoilers(leaf.info):
                cases.append(Case(endpoint, kind, leaf.where, _with(args, name, leaf.keys, bad)))
        info = types[name]
        if isinstance(info, mi.StructType):
            bogus = {**value, "bogus_member": 1}
            cases.append(Case(endpoint, "unknown-member", f"$.{name}", {**args, name: bogus}))
        wrong = wrong_type(info)
        if wrong is not None and isinstance(info, (mi.ListType, mi.StructType, mi.DictType)):
            cases.append(Case(endpoint, "wrong-type", f"$.{name}", {**args, name: wrong}))
    return cases


def _path_cases(endpoint: Endpoint, args: dict[str, Any]) -> list[Case]:
    return [
        Case(endpoint, f"path-{text!r}", f"$.{name}", {**args, name: text})
        for name in endpoint.path_params
        for text in DOT_SEGMENTS
    ]


def _unset_cases(endpoint: Endpoint, args: dict[str, Any]) -> list[Case]:
    return [
        Case(endpoint, "required-unset", f"$.{f.name}", {**args, f.name: msgspec.UNSET})
        for f in fields_of(endpoint)
        if f.required
    ]


def refusals() -> list[Case]:
    cases = []
    for endpoint in ALL_ENDPOINTS:
        args = _full_args(endpoint)
        cases += _member_cases(endpoint, args)
        cases += _path_cases(endpoint, baseline(endpoint))
        cases += _unset_cases(endpoint, baseline(endpoint))
    return cases


REFUSALS = refusals()
TRAVERSAL_CASES = [
    Case(endpoint, f"traversal-{text!r}", f"$.{name}", {**baseline(endpoint), name: text})
    for endpoint in ALL_ENDPOINTS
    for name in endpoint.path_params
    if isinstance(field_types(endpoint)[name], mi.StrType)
    for text in TRAVERSALS
]
INT_PATH_CASES = [
    Case(endpoint, f"traversal-{text!r}", f"$.{name}", {**baseline(endpoint), name: text})
    for endpoint in ALL_ENDPOINTS
    for name in endpoint.path_params
    if isinstance(field_types(endpoint)[name], mi.IntType)
    for text in TRAVERSALS[:3]
]


def family(case: Case) -> str:
    """The kind of mutation without its value (`path-'.'` → `path`): one test per family."""
    return case.kind.split("-'")[0].removesuffix("-neg")


def grouped(cases: list[Case]) -> list[Any]:
    """One pytest param per (endpoint, family): thousands of cases, a few hundred test items."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(f"{endpoint_id(case.endpoint)}-{family(case)}", []).append(case)
    return [pytest.param(group, id=name) for name, group in groups.items()]


# --------------------------------------------------------------------------------------------
# The synthesised arguments are valid: every refusal below is the mutation's doing


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS, ids=endpoint_id)
async def test_synthesised_arguments_are_sent_on_the_endpoints_route(endpoint: Endpoint) -> None:
    for args in (baseline(endpoint), _full_args(endpoint)):
        recorder = Recorder(endpoint, [])
        transport = MockTransport(recorder)
        async with client_for(endpoint, transport) as client:
            await invoke(client, endpoint, args)
        # the endpoint's own request, after the token fetch (the token endpoint: itself only)
        sent = transport.calls() or [s for s in transport.seen if s.path == endpoint.path]
        assert len(sent) == 1, [s.path for s in transport.seen]
        assert sent[0].method == endpoint.method
        assert_route_kept(endpoint, sent[0].path, args)


def test_the_fuzz_covers_every_endpoint_and_member() -> None:
    spoiled = {(c.endpoint.key, c.where.split(".")[1].split("[")[0]) for c in REFUSALS}
    for endpoint in ALL_ENDPOINTS:
        for f in fields_of(endpoint):
            assert (endpoint.key, f.name) in spoiled, f"{endpoint.key}: {f.name} is never spoiled"
    kinds = {c.kind for c in REFUSALS}
    assert {"wrong-type", "bytes-for-str", "beyond-int64", "nan", "unknown-member"} <= kinds
    assert len(TRAVERSAL_CASES) > 100


# --------------------------------------------------------------------------------------------
# Refused unsent


async def refusal_problem(case: Case) -> str | None:
    """What is wrong with how ``case`` was refused (None: refused unsent, naming the member)."""
    endpoint = case.endpoint
    transport = MockTransport(refusing)
    async with client_for(endpoint, transport) as client:
        try:
            await invoke(client, endpoint, case.kwargs)
        except RequestValidationError as caught:
            error = caught
        else:
            return "accepted"
    method_name = f"{endpoint.group}.{endpoint.name}"
    text = str(error)
    if transport.seen:
        return f"sent {[s.path for s in transport.seen]} before refusing"
    if error.method_name != method_name or method_name not in text or endpoint.key not in text:
        return f"the error does not name {method_name} and {endpoint.key}: {text}"
    if case.kind == "required-unset":
        member = case.where.removeprefix("$.")
        return None if f"`{member}`" in text else f"the error does not name `{member}`: {text}"
    at = error.field_path or ""
    if at != case.where and not at.startswith((case.where + ".", case.where + "[")):
        return f"field_path {at!r} is not {case.where!r}: {text}"
    return None


async def assert_all_refused(cases: list[Case]) -> None:
    problems = [f"{c.id}: {p}" for c in cases if (p := await refusal_problem(c)) is not None]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("cases", grouped(REFUSALS))
async def test_bad_argument_is_refused_unsent(cases: list[Case]) -> None:
    await assert_all_refused(cases)


@pytest.mark.parametrize("cases", grouped(INT_PATH_CASES))
async def test_traversal_in_an_integer_path_parameter_is_a_wrong_type(cases: list[Case]) -> None:
    await assert_all_refused(cases)


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS, ids=endpoint_id)
async def test_missing_or_unknown_keyword_is_a_type_error_unsent(endpoint: Endpoint) -> None:
    transport = MockTransport(refusing)
    args = baseline(endpoint)
    async with client_for(endpoint, transport) as client:
        with pytest.raises(TypeError, match="bogus_argument"):
            await invoke(client, endpoint, {**args, "bogus_argument": 1})
        for name in args:
            fewer = {k: v for k, v in args.items() if k != name}
            with pytest.raises(TypeError, match=name):
                await invoke(client, endpoint, fewer)
    assert transport.seen == []


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS, ids=endpoint_id)
async def test_extra_body_cannot_smuggle_a_known_argument(endpoint: Endpoint) -> None:
    transport = MockTransport(refusing)
    args = baseline(endpoint)
    name = fields_of(endpoint)[0].name
    options = RequestOptions(extra_body={name: args.get(name, "x1")})
    async with client_for(endpoint, transport) as client:
        with pytest.raises(RequestValidationError, match=name):
            await invoke(client, endpoint, {**args, "request_options": options})
    assert transport.seen == []


BAD_OPTIONS: tuple[Any, ...] = (
    {"bogus_option": 1},
    {"user_key": "u\r\nX-Evil: 1"},
    {"user_key": ""},
    {"user_key": 42},
    {"idempotency_key": "k\n"},
    {"timeout": "3"},
    {"timeout": float("inf")},
    {"timeout": float("nan")},
    {"timeout": 0},
    {"max_retries": -1},
    {"max_retries": True},
    {"max_retries": 1.5},
    {"extra_body": ["not", "a", "mapping"]},
    {"extra_query": "q=1"},
    {"extra_headers": {"X-PLUGIN-TOKEN": "forged"}},
    {"extra_headers": {"X-Extra": "a\r\nX-Evil: 1"}},
    {"extra_headers": {"X-Extra": 1}},
    ["user_key", "u"],
    "user_key=u",
    42,
)


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS, ids=endpoint_id)
async def test_bad_request_options_are_a_feishu_error_unsent(endpoint: Endpoint) -> None:
    transport = MockTransport(refusing)
    args = baseline(endpoint)
    problems = []
    async with client_for(endpoint, transport) as client:
        for options in BAD_OPTIONS:
            try:
                await invoke(client, endpoint, {**args, "request_options": options})
            except FeishuError:
                continue
            except Exception as exc:  # the point: nothing but FeishuError may escape
                problems.append(f"{options!r}: {type(exc).__name__}: {exc}")
            else:
                problems.append(f"{options!r}: accepted")
    assert not problems, "\n".join(problems)
    assert transport.seen == []


# --------------------------------------------------------------------------------------------
# Traversal: refused, or encoded with the route unchanged


async def traversal_problem(case: Case) -> str | None:
    """What is wrong with how ``case`` went out (None: refused unsent, or its route kept)."""
    endpoint = case.endpoint
    recorder = Recorder(endpoint, [])
    transport = MockTransport(recorder)
    async with client_for(endpoint, transport) as client:
        try:
            await invoke(client, endpoint, case.kwargs)
        except RequestValidationError as error:
            if transport.seen or error.field_path != case.where:
                return f"refused after sending, or naming {error.field_path!r}: {error}"
            return None
    (request,) = recorder.requests
    # what aiohttp puts on the wire: yarl parses the URL string (and would drop dot segments)
    wire = URL(request.url)
    try:
        assert_route_kept(endpoint, request.path, case.kwargs)
        assert_route_kept(endpoint, wire.raw_path, case.kwargs)
    except AssertionError as failure:
        return str(failure)
    if wire.raw_query_string or wire.fragment or any(c in request.url for c in "\r\n"):
        return f"a path parameter leaked out of its segment: {request.url!r}"
    return None


@pytest.mark.parametrize("cases", grouped(TRAVERSAL_CASES))
async def test_traversal_in_a_path_parameter_keeps_the_route(cases: list[Case]) -> None:
    problems = [f"{c.id}: {p}" for c in cases if (p := await traversal_problem(c)) is not None]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("text", TRAVERSALS)
async def test_traversal_arrives_at_a_real_server_on_the_route(text: str) -> None:
    """Through the real aiohttp transport and a socket: what the server receives keeps the
    route (aiohttp and yarl may not re-normalise what the client encoded)."""
    current: list[Endpoint] = []

    def answer(arrival: Arrival) -> Answer:
        reply = success(current[-1])
        return token_answer(arrival.path) or Answer(
            reply.status, reply.body, content_type=reply.headers["Content-Type"]
        )

    problems: list[str] = []
    async with ScriptedServer(answer) as server:
        clients = {
            "project": project_client(None, base_url=server.url, max_retries=0),
            "open": open_client(None, base_url=server.url, max_retries=0),
        }
        try:
            for case in (c for c in TRAVERSAL_CASES if c.kind == f"traversal-{text!r}"):
                current.append(case.endpoint)
                problems += await _arrival_problems(server, clients, case)
        finally:
            for client in clients.values():
                await client.close()
    assert not problems, "\n".join(problems)


async def _arrival_problems(
    server: ScriptedServer, clients: dict[str, Any], case: Case
) -> list[str]:
    before = len(server.calls())
    try:
        await invoke(clients[case.endpoint.platform], case.endpoint, case.kwargs)
    except RequestValidationError:
        arrived = server.calls()[before:]
        return [f"{case.id}: refused, yet {arrived[0].path} arrived"] if arrived else []
    (arrival,) = server.calls()[before:]
    try:
        assert_route_kept(case.endpoint, arrival.path, case.kwargs)
    except AssertionError as failure:
        return [f"{case.id}: {failure}"]
    return []
