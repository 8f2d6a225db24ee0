"""Response fuzz: every doc example response (specs/examples), mutated, served by a local
HTTP server and read through the real client. The outcome is a result or a FeishuError,
never anything else.

Each mutation kind is one test that covers every example (random choices are seeded, per
kind and example, from 1234, so a failure reproduces): wrong JSON kinds and nulls in random
members, every leaf null, truncation at several points, HTML with 200 and 502, empty
bodies, 10,000-deep nesting (as the body, as ``data``, in an unknown member), error codes
that are not integers, a null envelope code beside valid data, non-UTF-8 bytes and
``1e400`` (in known and in unknown members), other HTTP statuses and content types.

For a result, everything a user does with one must also raise nothing but FeishuError:
``raw_json()``, ``msgspec.to_builtins``, ``msgspec.json.encode``, ``log_id``, reading every
rich-text block's properties (the ``aiofeishu.project.blocks`` / ``aiofeishu.open.blocks``
wrappers) and, for paged endpoints, iterating the pages.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from aiofeishu import FeishuError, OpenClient, ProjectClient
from aiofeishu._api import Paginated
from aiofeishu._base import OpenObject
from aiofeishu._endpoint import Endpoint
from tests.endpoint_calls import ALL_ENDPOINTS, baseline, invoke, method_of, unlimited
from tests.scripted_server import Answer, Arrival, ScriptedServer, token_answer
from tests.test_doc_examples import KNOWN_BAD_RESPONSES, RESPONSES, Example, _response_endpoint

SEED = 1234
LOG_ID = "20250101-fuzz-log-id"
SAMPLES = 5  # members mutated per example and kind
MAX_PAGES = 20  # a paged walk must stop (or raise) before this
EMPTY_PAGES = {
    "project": {"err_code": 0, "err_msg": "", "err": {}, "data": []},
    "open": {"code": 0, "msg": "ok", "data": {}},
    "authen": {"error": {"code": 0}, "data": {}},
}
DEEP = 10_000
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
NOT_INTEGERS: tuple[Any, ...] = ("abc", 1.5, True, {}, [], "12abc", "1e3", -0.5, "")
# A member of the page's envelope (page 05's error examples have no endpoint of their own).
ENVELOPE_ENDPOINT = next(e for e in ALL_ENDPOINTS if e.key == "POST /open_api/projects/detail")


@dataclass(frozen=True)
class Variant:
    label: str
    answer: Answer
    expect: str = "any"  # "result": must decode; "error": must raise FeishuError


@dataclass(frozen=True)
class Target:
    """A response example and the endpoint whose method it answers."""

    example: Example
    endpoint: Endpoint

    @property
    def succeeds(self) -> bool:
        """The example is a success answer the SDK decodes (so its mutations can be judged)."""
        return (
            self.example.kind == "response"
            and self.example.id not in KNOWN_BAD_RESPONSES
            and not _code_path_value(self)
        )


def _target(example: Example) -> Target:
    return Target(example, _response_endpoint(example) or ENVELOPE_ENDPOINT)


TARGETS = [_target(ex) for ex in RESPONSES]


def _code_path(target: Target) -> tuple[str, ...]:
    envelope = target.endpoint.envelope
    return {"project": ("err_code",), "authen": ("error", "code"), "open": ("code",)}[envelope]


def _code_path_value(target: Target) -> Any:
    value: Any = target.example.json
    for key in _code_path(target):
        value = value.get(key) if isinstance(value, dict) else None
    return value


# --------------------------------------------------------------------------------------------
# JSON surgery


def members(value: Any) -> list[tuple[str | int, ...]]:
    """The path of every member below the root, depth first (iterative: deep input is fine)."""
    found: list[tuple[str | int, ...]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        keys, node = stack.pop()
        if keys:
            found.append(keys)
        children: list[tuple[str | int, Any]] = []
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        stack.extend(((*keys, k), v) for k, v in reversed(children))
    return found


def get(value: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        value = value[key]
    return value


def put(value: Any, keys: tuple[str | int, ...], new: Any) -> Any:
    """A copy of ``value`` with the member at ``keys`` set to ``new`` (created if absent)."""
    copy = msgspec.json.decode(msgspec.json.encode(value))
    if not keys:
        return new
    parent = copy
    for key in keys[:-1]:
        if isinstance(parent, dict) and not isinstance(parent.get(key), (dict, list)):
            parent[key] = {}
        parent = parent[key]
    parent[keys[-1]] = new
    return copy


def other_kind(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, (int, float)):
        return "12345"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"fuzz": [1]}
    if isinstance(value, dict):
        return [1, "fuzz"]
    return {"fuzz": [1]}


def encoded(value: Any) -> bytes:
    return msgspec.json.encode(value)


def spliced(value: Any, keys: tuple[str | int, ...], raw: bytes) -> bytes:
    """``value`` encoded with the member at ``keys`` replaced by the raw bytes ``raw``."""
    marker = "\u0000fuzz-splice\u0000"
    text = encoded(put(value, keys, marker))
    return text.replace(encoded(marker), raw, 1)


def json_variant(label: str, value: Any, expect: str = "any", status: int = 200) -> Variant:
    return Variant(label, Answer(status, encoded(value)), expect)


def raw_variant(label: str, body: bytes, expect: str = "any", status: int = 200) -> Variant:
    return Variant(label, Answer(status, body), expect)


def deep_array(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int = DEEP) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# --------------------------------------------------------------------------------------------
# Mutation kinds: Target → variants


def _sample(rng: random.Random, items: list[Any]) -> list[Any]:
    return rng.sample(items, min(SAMPLES, len(items)))


def wrong_types(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    return [
        json_variant(
            f"{keys} → {other_kind(get(body, keys))!r}",
            put(body, keys, other_kind(get(body, keys))),
        )
        for keys in _sample(rng, members(body))
    ]


def nulls(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    found = [
        json_variant(f"{keys} → null", put(body, keys, None))
        for keys in _sample(rng, members(body))
    ]
    every = body
    for keys in members(body):
        if not isinstance(get(every, keys), (dict, list)):
            every = put(every, keys, None)
    return [*found, json_variant("every leaf null", every)]


def truncations(t: Target, rng: random.Random) -> list[Variant]:
    raw = encoded(t.example.json)
    cuts = sorted({1, len(raw) // 4, len(raw) // 2, len(raw) - 1, rng.randrange(1, len(raw))})
    return [raw_variant(f"cut at {n}/{len(raw)}", raw[:n]) for n in cuts]


def html_pages(t: Target, rng: random.Random) -> list[Variant]:
    return [
        Variant(f"HTML {status}", Answer(status, HTML, content_type="text/html"), "error")
        for status in (200, 502)
    ]


def empty_bodies(t: Target, rng: random.Random) -> list[Variant]:
    return [
        Variant("empty 200 JSON", Answer(200, b""), "error"),
        Variant("empty 200 untyped", Answer(200, b"", content_type=None), "error"),
        Variant("empty 502", Answer(502, b"", content_type=None), "error"),
        Variant("204", Answer(204, b"", content_type=None), "error"),
        Variant("whitespace 200", Answer(200, b" \n "), "error"),
        raw_variant("null body", b"null", "error"),
        raw_variant("array body", b"[]", "error"),
        raw_variant("string body", b'"ok"', "error"),
    ]


def deep_nesting(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    return [
        raw_variant("10k-deep array body", deep_array(), "error"),
        raw_variant("10k-deep object body", deep_object(), "error"),
        raw_variant("10k-deep data", spliced(body, ("data",), deep_array())),
        raw_variant("10k-deep unknown member", spliced(body, ("fuzz_deep",), deep_object())),
    ]


def codes_not_integers(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    paths = [_code_path(t)]
    if t.endpoint.envelope == "project":
        paths.append(("err", "code"))
    return [
        json_variant(f"{keys} = {code!r}", put(body, keys, code))
        for keys in paths
        for code in NOT_INTEGERS
    ]


def null_envelope_code(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    expect = "result" if t.succeeds else "any"
    found = [json_variant(f"{_code_path(t)} = null", put(body, _code_path(t), None), expect)]
    if t.endpoint.envelope == "project":
        found.append(json_variant("err = null", put(body, ("err",), None), expect))
        found.append(json_variant("err_msg = null", put(body, ("err_msg",), None), expect))
    if t.endpoint.envelope == "authen":
        found.append(json_variant("error = null", put(body, ("error",), None), expect))
    return found


def non_utf8(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    bad = b'"caf\xe9 \xff\xfe"'
    strings = [k for k in members(body) if isinstance(get(body, k), str)]
    found = [raw_variant("non-UTF-8 unknown member", spliced(body, ("fuzz_text",), bad))]
    found += [
        raw_variant(f"non-UTF-8 at {keys}", spliced(body, keys, bad))
        for keys in _sample(rng, strings)
    ]
    found.append(raw_variant("UTF-16 body", encoded(body).decode().encode("utf-16")))
    return found


def huge_numbers(t: Target, rng: random.Random) -> list[Variant]:
    body = t.example.json
    numbers = [
        k
        for k in members(body)
        if isinstance(get(body, k), (int, float)) and not isinstance(get(body, k), bool)
    ]
    found = [
        raw_variant(f"{raw.decode()} unknown member", spliced(body, ("fuzz_number",), raw))
        for raw in (b"1e400", b"-1e400", b"1" + b"0" * 400)
    ]
    found += [
        raw_variant(f"1e400 at {keys}", spliced(body, keys, b"1e400"))
        for keys in _sample(rng, numbers)
    ]
    return found


def statuses(t: Target, rng: random.Random) -> list[Variant]:
    raw = encoded(t.example.json)
    found = [raw_variant(f"HTTP {s}", raw, "error", s) for s in (400, 401, 403, 404, 429, 500, 503)]
    found += [
        Variant(f"HTTP {s} redirect", Answer(s, raw, {"Location": "http://127.0.0.2:9/x"}), "error")
        for s in (301, 302, 307)
    ]
    found.append(Variant("as text/html", Answer(200, raw, content_type="text/html")))
    found.append(
        Variant("as octet-stream", Answer(200, raw, content_type="application/octet-stream"))
    )
    return found


def originals(t: Target, rng: random.Random) -> list[Variant]:
    # page 05's template shows err_code 0 beside err.code 1: only a non-zero envelope code
    # (err_code / error.code / code) makes an error, as page 57's success example requires
    expect = "result" if t.succeeds else "error" if _code_path_value(t) else "any"
    return [json_variant("as documented", t.example.json, expect)]


KINDS: dict[str, Callable[[Target, random.Random], list[Variant]]] = {
    "original": originals,
    "wrong-type": wrong_types,
    "null": nulls,
    "truncated": truncations,
    "html": html_pages,
    "empty": empty_bodies,
    "deep-nesting": deep_nesting,
    "code-not-integer": codes_not_integers,
    "null-envelope-code": null_envelope_code,
    "non-utf8": non_utf8,
    "huge-number": huge_numbers,
    "status": statuses,
}


# --------------------------------------------------------------------------------------------
# Reading a result the way users do


def _escaped(what: str, exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{what}: {type(exc).__name__}: {str(exc)[:200]} (at {frame.filename}:{frame.lineno})"


def _values(node: Any) -> Iterator[Any]:
    if isinstance(node, msgspec.Struct):  # a model, or a block of known shape (see _exact)
        yield from (getattr(node, name) for name in node.__struct_fields__)
    elif isinstance(node, OpenObject):
        for name in _block_properties(type(node)):
            yield getattr(node, name)  # may raise: the caller guards each block
        yield from node.values()
    elif isinstance(node, dict):
        yield from node.values()
    elif isinstance(node, (list, tuple)):
        yield from node


def _block_properties(cls: type[OpenObject]) -> list[str]:
    return [
        name
        for klass in cls.__mro__
        if issubclass(klass, OpenObject)
        for name, member in vars(klass).items()
        if isinstance(member, property)
    ]


def read_everything(result: Any) -> tuple[list[str], int]:
    """Walk the whole result, reading every block property. (problems, blocks read)."""
    problems: list[str] = []
    blocks = 0
    stack = [result]
    visited: dict[
        int, Any
    ] = {}  # a block's `.raw` is the block itself (values kept: ids stay unique)
    while stack:
        node = stack.pop()
        if id(node) in visited or not isinstance(node, (msgspec.Struct, dict, list, tuple)):
            continue
        visited[id(node)] = node
        blocks += isinstance(node, OpenObject)
        try:
            stack.extend(_values(node))
        except FeishuError:
            continue
        except Exception as exc:
            problems.append(_escaped(f"reading {type(node).__name__}", exc))
    return problems, blocks


def use(result: Any) -> list[str]:
    """Problems met doing with ``result`` what users do with one."""
    problems = []
    steps: dict[str, Callable[[], Any]] = {
        "raw_json()": result.raw_json,
        "msgspec.to_builtins": lambda: msgspec.to_builtins(result),
        "msgspec.json.encode": lambda: msgspec.json.encode(result),
    }
    for what, step in steps.items():
        try:
            step()
        except FeishuError:
            pass
        except Exception as exc:
            problems.append(_escaped(what, exc))
    if result.log_id != LOG_ID:
        problems.append(f"log_id is {result.log_id!r}, not the X-Tt-Logid {LOG_ID!r}")
    problems += read_everything(result)[0]
    return problems


# --------------------------------------------------------------------------------------------
# Serving and calling


class Serving:
    """One local server answering token requests normally and every other request with the
    current variant; one client per platform pointed at it."""

    def __init__(self) -> None:
        self.answer = Answer(200, b"{}")
        self.target_path = ""  # a token endpoint called as a method gets the variant too
        self.server = ScriptedServer(self._answer)
        self.clients: dict[str, ProjectClient | OpenClient] = {}

    def _answer(self, arrival: Arrival) -> Answer:
        token = None if arrival.path == self.target_path else token_answer(arrival.path)
        answer = token or self.answer
        headers = {"X-Tt-Logid": LOG_ID, **answer.headers}
        return Answer(answer.status, answer.body, headers, answer.content_type)

    async def __aenter__(self) -> Serving:
        await self.server.__aenter__()
        options: dict[str, Any] = {
            "base_url": self.server.url,
            "rate_limits": unlimited(),
            "max_retries": 0,
            "timeout": 20.0,
        }
        self.clients = {
            "project": ProjectClient("MII_FUZZ", "fuzz-secret", user_key="u-fuzz", **options),
            "open": OpenClient("cli_fuzz", "fuzz-secret", **options),
        }
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self.clients.values():
            await client.close()
        await self.server.__aexit__(*exc_info)

    async def outcome(self, target: Target, variant: Variant) -> tuple[str, list[str]]:
        """("result" | "error", problems) of calling the target's method against ``variant``."""
        self.answer = variant.answer
        endpoint = target.endpoint
        self.target_path = endpoint.path
        client = self.clients[endpoint.platform]
        try:
            result = await invoke(client, endpoint, baseline(endpoint))
        except FeishuError:
            return "error", []
        except Exception as exc:
            return "escaped", [_escaped("the call", exc)]
        problems = use(result)
        if endpoint.pagination is not None:
            problems += await self.walk_pages(client, endpoint)
        return "result", problems

    async def walk_pages(self, client: Any, endpoint: Endpoint) -> list[str]:
        """Iterate the pages. Page-numbered walks get an empty page after the variant (the
        ordinary end: a repeated page is indistinguishable from new data); cursor walks get
        the variant again, and a repeated cursor must stop them."""
        paged = method_of(client, endpoint)(**baseline(endpoint))
        assert isinstance(paged, Paginated)
        pages = 0
        try:
            async for page in paged.pages():
                pages += 1
                if pages >= MAX_PAGES:
                    return [f"paging did not stop after {MAX_PAGES} pages"]
                if endpoint.pagination and endpoint.pagination.style == "page":
                    self.answer = Answer(200, encoded(EMPTY_PAGES[endpoint.envelope]))
                read_everything(page)
        except FeishuError:
            pass
        except Exception as exc:
            return [_escaped("paging", exc)]
        return []


def _judge(variant: Variant, got: str, problems: list[str]) -> list[str]:
    if variant.expect != "any" and got != variant.expect and got != "escaped":
        problems = [*problems, f"expected a {variant.expect}, got a {got}"]
    return problems


def variants_of(kind: str, target: Target) -> list[Variant]:
    return KINDS[kind](target, random.Random(f"{SEED}:{kind}:{target.example.id}"))


@pytest.mark.parametrize("kind", list(KINDS))
async def test_mutated_doc_examples_give_a_result_or_a_feishu_error(kind: str) -> None:
    problems = []
    async with Serving() as serving:
        for target in TARGETS:
            for variant in variants_of(kind, target):
                got, found = await serving.outcome(target, variant)
                found = _judge(variant, got, found)
                problems += [f"{target.example.id} [{variant.label}]: {p}" for p in found]
    assert not problems, "\n".join(problems)


def test_every_example_meets_every_kind() -> None:
    assert len(TARGETS) == len(RESPONSES) > 50
    for kind in KINDS:
        for target in TARGETS:
            assert variants_of(kind, target), f"{kind} has no variant of {target.example.id}"
    assert variants_of("wrong-type", TARGETS[0]) == variants_of("wrong-type", TARGETS[0])


async def test_success_examples_are_results_with_rich_text_read() -> None:
    """The fuzz's own footing: documented successes decode over the socket and their rich
    text is reached (so 'no problems' above means the blocks were really read)."""
    blocks = 0
    async with Serving() as serving:
        for target in TARGETS:
            if not target.succeeds:
                continue
            serving.answer = Answer(200, encoded(target.example.json))
            serving.target_path = target.endpoint.path
            client = serving.clients[target.endpoint.platform]
            result = await invoke(client, target.endpoint, baseline(target.endpoint))
            blocks += read_everything(result)[1]
            assert result.log_id == LOG_ID
    assert blocks > 0, "no rich-text block among the examples was reached"
