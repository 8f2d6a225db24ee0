"""Every JSON example of the doc pages (specs/examples) run through the SDK.

* ``request`` examples are sent through the generated client method (a MockTransport at the
  SDK's transport seam answers a minimal success envelope) and the wire is checked: method, rendered path, body, headers.
* ``response`` / ``error_response`` examples decode into the endpoint's response model.
* ``structure`` examples (pages 07, 08, 10, 61) are validated against the shared models, or
  sent as requests where the page shows whole request bodies.
* Examples that cannot validate because the docs are wrong sit in ``KNOWN_BAD`` /
  ``KNOWN_BAD_RESPONSES`` / ``KNOWN_BAD_STRUCTURES``; the tests assert the SDK *refuses* them,
  so those lists cannot silently rot.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import msgspec
import pytest

import aiofeishu
from aiofeishu import OpenClient, ProjectClient
from aiofeishu._api import Download, FileUpload
from aiofeishu._base import ProjectResponse, dec_hook
from aiofeishu._endpoint import Endpoint
from aiofeishu._transport import WireReply, WireRequest
from aiofeishu.open.endpoints import ALL as OPEN_ENDPOINTS
from aiofeishu.project import models as pm
from aiofeishu.project import requests as rq
from aiofeishu.project.endpoints import ALL as PROJECT_ENDPOINTS
from tests.mock_transport import MockTransport, Seen, json_reply

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "specs" / "examples"
URL = "http://feishu.test"
AUTHEN_PAYLOAD = {
    "data": {"token": "p-1", "expire_time": 7200},
    "error": {"code": 0, "msg": "success"},
}
PROJECT_OK = {"err_code": 0, "err_msg": "", "err": {}, "data": None}
OPEN_OK = {"code": 0, "msg": "ok", "data": {}}

ALL_ENDPOINTS: tuple[Endpoint, ...] = (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS)


def _by_key(group: str, name: str) -> Endpoint:
    (found,) = [e for e in ALL_ENDPOINTS if e.group == group and e.name == name]
    return found


# --------------------------------------------------------------------------------------------
# Known-bad examples: the docs are wrong, the SDK must refuse them.

KNOWN_BAD: dict[str, str] = {
    "44-附件-4#0": (
        'work_item_id is the quoted placeholder "643711xxxx" (a masked ID, not a number) '
        "while the spec (and the path of page 41) types work_item_id as int64"
    ),
    "61-视图中度量-6#10": (
        "the work-item-status condition-view example shows only search_group; "
        "create_condition_view requires project_key, work_item_type_key and name "
        "(every other example on the page carries them)"
    ),
}

KNOWN_BAD_RESPONSES: dict[str, str] = {
    "46-配置-2#1": (
        "the example contradicts itself on Business.role_owners: the top-level item shows a "
        "list of RoleOwner, its child a map keyed by role; page 06 and the vendor Go SDK say "
        "map, so the spec types it as map<string, RoleOwner> and the list form is refused"
    ),
}

# id -> (the one check that must fail, reason); every other check of the example must pass.
KNOWN_BAD_STRUCTURES: dict[str, tuple[str, str]] = {
    "07-格式说明-3#38": (
        "requests.FieldValuePair",
        "multi_signal is shown in its read-side form: a top-level `details` member instead of "
        "field_value, which the strict request-side FieldValuePair rejects",
    ),
}

# Structure examples that are whole request bodies of an endpoint (page, first index or None).
STRUCTURE_REQUESTS: dict[str, tuple[str, str]] = {
    # page 61: every example is a create_condition_view body (search_group with its params)
    "61-视图中度量-6": ("views", "create_condition_view"),
}
# Single structure examples that are request bodies of an endpoint.
STRUCTURE_REQUEST_EXAMPLES: dict[str, tuple[str, str]] = {
    # page 07's 'rich_text' body is the rich-text form of the comment-create body
    "07-格式说明-3#82": ("comments", "create"),
    # page 08 examples 5..24 are search_by_params bodies (page 20)
    **{f"08-格式说明-4#{i}": ("work_items", "search_by_params") for i in range(5, 25)},
}
# Fixture pages with request/response examples but no endpoint of their own.
ENVELOPE_PAGES = {"feishu-project/05-格式说明-1.md": "the error-envelope format page"}


# --------------------------------------------------------------------------------------------
# Loading the fixtures


@dataclass(frozen=True)
class Example:
    page: str  # e.g. feishu-project/18-工作项-1.md
    index: int
    kind: str
    json: Any
    http: str | None
    label: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{Path(self.page).stem}#{self.index}"

    @property
    def stem(self) -> str:
        return Path(self.page).stem


def _load() -> list[Example]:
    found = []
    for path in sorted(EXAMPLES.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for ex in data["examples"]:
            found.append(
                Example(
                    data["page"],
                    ex["index"],
                    ex["kind"],
                    ex["json"],
                    ex.get("http"),
                    ex.get("label"),
                    ex,
                )
            )
    return found


EXAMPLE_LIST = _load()
EXAMPLES_BY_ID = {ex.id: ex for ex in EXAMPLE_LIST}
assert len(EXAMPLES_BY_ID) == len(EXAMPLE_LIST), "example ids must be unique"

BY_DOC: dict[str, list[Endpoint]] = {}
for _ep in ALL_ENDPOINTS:
    BY_DOC.setdefault(_ep.doc, []).append(_ep)


def _path_regex(ep: Endpoint) -> re.Pattern[str]:
    parts = [
        f"(?P<{p[1:]}>[^/]+)" if p.startswith(":") else re.escape(p) for p in ep.path.split("/")
    ]
    return re.compile("^" + "/".join(parts) + "$")


def _split_http(http: str) -> tuple[str | None, str]:
    method, _, rest = http.strip().partition(" ")
    if not rest:
        return None, method.split("?")[0]
    return method.upper(), rest.split("?")[0]


def _match_http(http: str, candidates: list[Endpoint]) -> Endpoint | None:
    method, path = _split_http(http)
    hits = [
        e
        for e in candidates
        if _path_regex(e).match(path) and (method is None or method == e.method)
    ]
    # a literal segment beats a parameter: prefer the endpoint with most literal characters
    hits.sort(key=lambda e: -len(re.sub(r":\w+", "", e.path)))
    return hits[0] if hits else None


def _accepts(ep: Endpoint, body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    names = {f.encode_name for f in msgspec.structs.fields(ep.request_type)}
    return set(body) <= names


def _request_endpoint(ex: Example) -> Endpoint:
    if ex.id in STRUCTURE_REQUEST_EXAMPLES:
        return _by_key(*STRUCTURE_REQUEST_EXAMPLES[ex.id])
    if ex.stem in STRUCTURE_REQUESTS:
        return _by_key(*STRUCTURE_REQUESTS[ex.stem])
    page_eps = BY_DOC.get(ex.page, [])
    if ex.http:
        hit = _match_http(ex.http, page_eps) or _match_http(ex.http, list(ALL_ENDPOINTS))
        assert hit is not None, f"{ex.id}: no endpoint serves {ex.http}"
        return hit
    if len(page_eps) == 1:
        return page_eps[0]
    accepting = [e for e in page_eps if _accepts(e, ex.json)]
    assert len(accepting) == 1, f"{ex.id}: cannot tell the endpoint among {page_eps}"
    return accepting[0]


def _response_endpoint(ex: Example) -> Endpoint | None:
    """None: decode into the bare envelope (error examples of the format pages)."""
    page_eps = BY_DOC.get(ex.page, [])
    if len(page_eps) == 1:
        return page_eps[0]
    if ex.label:
        labelled = [e for e in page_eps if e.path == ex.label.strip()]
        if len(labelled) == 1:
            return labelled[0]
    if ex.page in ENVELOPE_PAGES:
        return None
    raise AssertionError(f"{ex.id}: cannot tell the endpoint among {page_eps}")


def _is_structure_request(ex: Example) -> bool:
    return ex.kind == "structure" and (
        ex.id in STRUCTURE_REQUEST_EXAMPLES or ex.stem in STRUCTURE_REQUESTS
    )


REQUESTS = [ex for ex in EXAMPLE_LIST if ex.kind == "request" or _is_structure_request(ex)]
RESPONSES = [ex for ex in EXAMPLE_LIST if ex.kind in ("response", "error_response")]


# --------------------------------------------------------------------------------------------
# Request examples through the SDK


def _field_types(ep: Endpoint) -> dict[str, Any]:
    return {f.encode_name: f.type for f in msgspec.structs.fields(ep.request_type)}


def _fits(value: Any, tp: Any) -> bool:
    try:
        msgspec.convert(value, tp)
    except msgspec.ValidationError:
        return False
    return True


def _path_values(ep: Endpoint, ex: Example) -> dict[str, Any]:
    """Path parameters: the example's own (from its http line) when they fit the type."""
    from_http: dict[str, str] = {}
    if ex.http:
        match = _path_regex(ep).match(_split_http(ex.http)[1])
        if match:
            from_http = match.groupdict()
    types = _field_types(ep)
    values: dict[str, Any] = {}
    for name in ep.path_params:
        tp = types[name]
        candidates = [from_http[name]] if name in from_http else []
        candidates += ["x1", 1]
        # masked IDs like "123456xxxx" in a path stand for a number: fall back to a dummy
        values[name] = next(c for c in candidates if _fits(c, tp))
    return values


def _rendered(ep: Endpoint, values: dict[str, Any]) -> str:
    path = ep.path
    for name in ep.path_params:
        path = path.replace(f":{name}", quote(str(values[name]), safe=""))
    return path


def _client(ep: Endpoint, transport: MockTransport | None = None) -> Any:
    if ep.platform == "project":
        return ProjectClient(
            "pid", "secret", user_key="u", base_url=URL, max_retries=0, transport=transport
        )
    return OpenClient("app", "secret", base_url=URL, max_retries=0, transport=transport)


def _transport(ep: Endpoint) -> MockTransport:
    """Tokens from the mock's own token answers; every other request gets a success."""
    if ep.envelope == "authen":
        reply = json_reply(AUTHEN_PAYLOAD)
    elif ep.download:
        reply = WireReply(200, {"Content-Type": "application/octet-stream"}, b"file-bytes")
    else:
        reply = json_reply(PROJECT_OK if ep.platform == "project" else OPEN_OK)

    def answer(request: WireRequest) -> WireReply:
        assert request.method == ep.method, request
        return reply

    return MockTransport(answer)


def _dummy(tp: Any) -> Any:
    """A value of a query parameter's type (the first enum member for a Literal)."""
    info = msgspec.inspect.type_info(tp)
    if isinstance(info, msgspec.inspect.UnionType):
        info = next(t for t in info.types if not isinstance(t, msgspec.inspect.UnsetType))
    if isinstance(info, msgspec.inspect.LiteralType):
        return info.values[0]
    if isinstance(info, msgspec.inspect.IntType):
        return 1
    if isinstance(info, msgspec.inspect.BoolType):
        return True
    return "x1"


def _query_values(ep: Endpoint, ex: Example) -> dict[str, Any]:
    """Query parameters: the example's own (from its http line), else required ones get a dummy.

    The extractor keeps no query string in `http` (task-v1-patch's cURL sends
    ?user_id_type=open_id, its `http` has no query), so required ones are filled in.
    """
    values: dict[str, Any] = {}
    if ex.http and "?" in ex.http:
        values.update(parse_qsl(ex.http.split("?", 1)[1]))
    required = {f.encode_name: f for f in msgspec.structs.fields(ep.request_type) if f.required}
    for name in ep.query_params:
        if name not in values and name in required and name not in (ex.json or {}):
            values[name] = _dummy(required[name].type)
    return values


def _arguments(ep: Endpoint, ex: Example) -> dict[str, Any]:
    assert isinstance(ex.json, dict), f"{ex.id}: a request body must be an object"
    kwargs: dict[str, Any] = {**_path_values(ep, ex), **_query_values(ep, ex), **ex.json}
    for name in ep.file_params:
        if name in kwargs:  # the docs show a file name: upload some bytes under that name
            kwargs[name] = FileUpload(b"%PDF-example", filename=str(kwargs[name]))
    return kwargs


def _missing_required(ep: Endpoint, kwargs: dict[str, Any]) -> list[str]:
    """Required keyword arguments of the generated method that ``kwargs`` lacks."""
    client = _client(ep)  # opens no session until a call is made
    sig = inspect.signature(getattr(getattr(client, ep.group), ep.name))
    return [
        name
        for name, param in sig.parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
        and param.default is inspect.Parameter.empty
        and name not in kwargs
    ]


async def _invoke(ep: Endpoint, kwargs: dict[str, Any], transport: MockTransport) -> None:
    async with _client(ep, transport) as client:
        method: Callable[..., Any] = getattr(getattr(client, ep.group), ep.name)
        result = method(**kwargs)
        if isinstance(result, Download):
            assert await result.read() == b"file-bytes"
        else:
            await result


def _calls_to(transport: MockTransport, method: str, path: str) -> list[Seen]:
    return [
        seen
        for seen in transport.seen
        if seen.method == method and unquote(seen.path) == unquote(path)
    ]


@pytest.mark.parametrize("ex", REQUESTS, ids=lambda ex: ex.id)
async def test_request_example(ex: Example) -> None:
    ep = _request_endpoint(ex)
    kwargs = _arguments(ep, ex)
    path = _rendered(ep, {**_path_values(ep, ex), **kwargs})
    transport = _transport(ep)
    if ex.id in KNOWN_BAD:
        missing = _missing_required(ep, kwargs)
        if missing:
            # omitted required arguments: the generated signature refuses the call outright;
            # passed as UNSET ("not given"), the SDK's validation refuses it
            with pytest.raises(TypeError, match="required keyword-only"):
                await _invoke(ep, kwargs, transport)
            kwargs = {**kwargs, **dict.fromkeys(missing, msgspec.UNSET)}
        with pytest.raises(aiofeishu.RequestValidationError):
            await _invoke(ep, kwargs, transport)
        assert not _calls_to(transport, ep.method, path), "a refused call must not go out"
        return
    await _invoke(ep, kwargs, transport)
    calls = _calls_to(transport, ep.method, path)
    assert calls, f"no {ep.method} {path} was sent; sent: {transport.seen}"
    call = calls[-1]  # plugin_token is also fetched for auth when it is the endpoint itself
    query = {k: v for k, v in kwargs.items() if k in ep.query_params}
    assert call.query == {k: str(v) for k, v in query.items()}
    headers = call.headers
    if ep.platform == "project":
        assert ("X-IDEM-UUID" in headers) == ep.writes, headers
    if ep.multipart:
        assert call.body is not None  # a multipart form: no JSON body to compare
        return
    consumed = set(ep.path_params) | set(ep.query_params)
    expected = {k: v for k, v in ex.json.items() if k not in consumed}
    assert set(ex.json) <= set(ep.body_params) | consumed, "example keys the SDK would drop"
    assert call.raw is not None
    assert call.body == expected


def test_known_bad_requests_are_request_examples() -> None:
    ids = {ex.id for ex in REQUESTS}
    assert set(KNOWN_BAD) <= ids
    assert all(len(reason) > 40 for reason in KNOWN_BAD.values())


# --------------------------------------------------------------------------------------------
# Response examples decode into the endpoint's model


def _decode(ex: Example) -> Any:
    ep = _response_endpoint(ex)
    response_type = ProjectResponse if ep is None else ep.response_type
    return msgspec.json.decode(
        msgspec.json.encode(ex.json), type=response_type, dec_hook=dec_hook, strict=False
    )


@pytest.mark.parametrize("ex", RESPONSES, ids=lambda ex: ex.id)
def test_response_example(ex: Example) -> None:
    if ex.id in KNOWN_BAD_RESPONSES:
        with pytest.raises(msgspec.ValidationError):
            _decode(ex)
        return
    decoded = _decode(ex)
    if isinstance(ex.json, dict) and "err_code" in ex.json:
        assert decoded.err_code == ex.json["err_code"]
    if isinstance(ex.json, dict) and "code" in ex.json and hasattr(decoded, "code"):
        assert decoded.code == ex.json["code"]


def test_known_bad_responses_are_response_examples() -> None:
    assert set(KNOWN_BAD_RESPONSES) <= {ex.id for ex in RESPONSES}


# --------------------------------------------------------------------------------------------
# Structure examples against the shared models


def _strict_request(tp: Any) -> Callable[[Any], Any]:
    return lambda value: msgspec.convert(value, tp)


def _lenient_response(tp: Any) -> Callable[[Any], Any]:
    return lambda value: msgspec.convert(value, tp, dec_hook=dec_hook, strict=False)


def _structure_checks(ex: Example) -> list[tuple[str, Callable[[Any], Any]]] | None:
    """(what, check) pairs for a structure example, or None when no model is clear."""
    value = ex.json
    if ex.stem == "07-格式说明-3":
        if isinstance(value, list):  # rich text: a list of blocks
            return [
                ("list[requests.RichTextBlock]", _strict_request(list[rq.RichTextBlock])),
                (
                    "list[models.RichTextBlockFields]",
                    _lenient_response(list[pm.RichTextBlockFields]),
                ),
            ]
        if "field_key" in value:
            return [
                ("models.FieldValuePair", _lenient_response(pm.FieldValuePair)),
                ("requests.FieldValuePair", _strict_request(rq.FieldValuePair)),
            ]
        if ex.label == "work_item_status":
            return [("models.WorkItemStatus", _lenient_response(pm.WorkItemStatus))]
        if set(value) <= {f.encode_name for f in msgspec.structs.fields(pm.WorkItem)}:
            # attribute snippets of a work item; checked strictly against the read model
            return [("models.WorkItem", lambda v: msgspec.convert(v, pm.WorkItem))]
        return None
    if ex.stem in ("08-格式说明-4", "10-格式说明-6"):
        if ex.label == "feature_state_time":
            return [("requests.SearchStateTime", _strict_request(rq.SearchStateTime))]
        if ex.label == "node_owners":
            return [("list[requests.SearchNodeOwner]", _strict_request(list[rq.SearchNodeOwner]))]
        if ex.label == "role_owners":
            return [("list[requests.RoleOwner]", _strict_request(list[rq.RoleOwner]))]
        if isinstance(value, dict) and "search_group" in value:
            checks: list[tuple[str, Callable[[Any], Any]]] = [
                (
                    "requests.SearchGroup",
                    lambda v: msgspec.convert(v["search_group"], rq.SearchGroup),
                )
            ]
            if "data_sources" in value:  # page 10: the global-search body
                checks.append(("requests.GlobalSearchQuery", _strict_request(rq.GlobalSearchQuery)))
            return checks
    return None


STRUCTURES = [ex for ex in EXAMPLE_LIST if ex.kind == "structure" and not _is_structure_request(ex)]
MAPPED_STRUCTURES = [ex for ex in STRUCTURES if _structure_checks(ex) is not None]
# Structure examples with no clear model (listed here so nothing is skipped silently).
UNMAPPED_STRUCTURES: dict[str, str] = {
    "07-格式说明-3#46": (
        "linked_work_item {wi_object_id, id, type, name}: no model of the SDK has wi_object_id"
    ),
}


@pytest.mark.parametrize("ex", MAPPED_STRUCTURES, ids=lambda ex: ex.id)
def test_structure_example(ex: Example) -> None:
    checks = _structure_checks(ex)
    assert checks
    failures = []
    for what, check in checks:
        try:
            check(ex.json)
        except msgspec.ValidationError as exc:
            failures.append((what, str(exc)))
    if ex.id in KNOWN_BAD_STRUCTURES:
        expected = KNOWN_BAD_STRUCTURES[ex.id][0]
        assert [what for what, _ in failures] == [expected], failures
        return
    assert not failures, failures


def test_every_structure_is_checked_or_listed() -> None:
    unmapped = {ex.id for ex in STRUCTURES if _structure_checks(ex) is None}
    assert unmapped == set(UNMAPPED_STRUCTURES)
    assert set(KNOWN_BAD_STRUCTURES) <= {ex.id for ex in MAPPED_STRUCTURES}


# --------------------------------------------------------------------------------------------
# Nothing silently skipped


def test_every_example_is_covered() -> None:
    covered = Counter(ex.id for ex in (*REQUESTS, *RESPONSES, *STRUCTURES))
    assert all(n == 1 for n in covered.values())
    assert set(covered) == set(EXAMPLES_BY_ID)


def test_request_and_response_counts_per_page() -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for path in sorted(EXAMPLES.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for ex in data["examples"]:
            if ex["kind"] in ("request", "response", "error_response"):
                expected[(data["page"], ex["kind"])] += 1
    tested: Counter[tuple[str, str]] = Counter(
        (ex.page, ex.kind) for ex in (*REQUESTS, *RESPONSES) if ex.kind != "structure"
    )
    assert tested == expected


def test_every_fixture_page_is_mapped() -> None:
    for ex in (*REQUESTS, *RESPONSES):
        if ex.page in ENVELOPE_PAGES:
            continue
        if ex.kind != "structure":
            assert BY_DOC.get(ex.page), f"{ex.page} has examples but no endpoint"
    for ex in REQUESTS:
        _request_endpoint(ex)  # raises when ambiguous
    for ex in RESPONSES:
        _response_endpoint(ex)
    # every endpoint with a doc page of its own has a fixture (or its page has no code blocks)
    counts = {}
    for line in (EXAMPLES / "COUNTS.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        page, blocks, *_ = line.split("\t")
        counts[page] = int(blocks)
    for ep in ALL_ENDPOINTS:
        if "(listed, no page)" in ep.doc or ep.doc.startswith("vendor-sdk:"):
            continue
        assert ep.doc in counts, f"{ep.group}.{ep.name}: {ep.doc} is not in COUNTS.tsv"


def test_request_endpoint_resolution() -> None:
    # page 02 shows three authen endpoints and, in its cURL examples, projects/detail
    got = {ex.id: (e := _request_endpoint(ex)).group + "." + e.name for ex in REQUESTS}
    assert got["02-调用流程-1#0"] == "projects.detail"
    assert got["02-调用流程-1#1"] == "projects.detail"
    assert got["02-调用流程-1#2"] == "authen.plugin_token"
    assert got["02-调用流程-1#5"] == "authen.user_plugin_token"
    assert got["02-调用流程-1#7"] == "authen.refresh_token"
    responses = {
        ex.id: (e.group + "." + e.name if (e := _response_endpoint(ex)) else None)
        for ex in RESPONSES
    }
    assert responses["02-调用流程-1#3"] == "authen.plugin_token"
    assert responses["02-调用流程-1#6"] == "authen.user_plugin_token"
    assert responses["02-调用流程-1#8"] == "authen.refresh_token"
    assert responses["05-格式说明-1#0"] is None
