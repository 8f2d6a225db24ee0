"""What a call needs to know about its endpoint, worked out once per endpoint.

Every call of an endpoint asks the same questions: where each argument travels, what the
path template's pieces are, which decoder reads the answer, which envelope member says
success, and whether plain arguments (ids, keys, names) are valid. Answering them once,
in one object, keeps the per-call path to a few dictionary lookups: the client's own
CPU per call is what its users pay on top of aiohttp.

The quick checks are derived from the request model itself (``msgspec.inspect``), so they
cannot drift from it: a check accepts a value only when msgspec would accept it too, and
an argument without a quick check sends the call through full validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from msgspec import inspect as mi

from aiofeishu._base import ResponseDecoder, response_decoder
from aiofeishu._endpoint import Endpoint

__all__ = ["BODY", "FILE", "PATH", "QUERY", "Plan", "plan_of"]

PATH, QUERY, BODY, FILE = range(4)
_INT64 = (-(2**63), 2**63 - 1)
_PLACEHOLDER = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")

Check = Callable[[Any], bool]

# Success members of the envelopes an answer's typed decode can be judged by at once
# (the authen envelope nests its code, so it takes the general reading).
_SUCCESS_MEMBER = {"open": "code", "project": "err_code"}


class Plan:
    """One endpoint's call-invariant facts (see the module docstring). Read-only."""

    __slots__ = (
        "decoder",
        "endpoint",
        "layout",
        "path_parts",
        "quick",
        "required_count",
        "sends_body",
        "success_member",
    )

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        layout = dict.fromkeys(endpoint.body_params, BODY)
        layout.update(dict.fromkeys(endpoint.query_params, QUERY))
        layout.update(dict.fromkeys(endpoint.path_params, PATH))
        layout.update(dict.fromkeys(endpoint.file_params, FILE))
        self.layout: dict[str, int] = layout
        # "/a/:x/b" → ("/a/", "x", "/b"): literals at even, placeholder names at odd places.
        self.path_parts: tuple[str, ...] = tuple(_PLACEHOLDER.split(endpoint.path))
        # Made here, before the call takes a slot: the first decoder of a type imports the
        # generated models, which would stall the loop while other calls' starts pass.
        self.decoder: ResponseDecoder = response_decoder(endpoint.response_type)
        self.success_member: str | None = _SUCCESS_MEMBER.get(endpoint.envelope)
        self.sends_body = endpoint.method in ("POST", "PUT", "PATCH")
        # Per argument with a quick check: (check, where it travels, whether required).
        checks, required = _quick_checks(endpoint.request_type)
        self.quick: dict[str, tuple[Check, int, bool]] = {
            name: (check, layout.get(name, BODY), name in required)
            for name, check in checks.items()
        }
        self.required_count = len(required)


_plans: dict[int, Plan] = {}


def plan_of(endpoint: Endpoint) -> Plan:
    """The endpoint's plan (keyed by identity: hashing an Endpoint hashes every field)."""
    plan = _plans.get(id(endpoint))
    if plan is not None and plan.endpoint is endpoint:
        return plan
    if len(_plans) > 1024:  # client.request() makes endpoints on the fly
        _plans.clear()
    plan = _plans[id(endpoint)] = Plan(endpoint)
    return plan


def _quick_checks(request_type: type[Any]) -> tuple[dict[str, Check], frozenset[str]]:
    info = mi.type_info(request_type)
    if not isinstance(info, mi.StructType):
        return {}, frozenset()
    checks: dict[str, Check] = {}
    for f in info.fields:
        check = _check_of(f.type)
        if check is not None and f.name == f.encode_name:
            checks[f.name] = check
    required = frozenset(f.name for f in info.fields if f.required)
    return checks, required


def _check_of(t: mi.Type) -> Check | None:
    """A predicate accepting only values msgspec accepts for ``t`` and JSON carries
    faithfully; None when ``t`` is not a plain scalar (full validation decides)."""
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.UnionType):
        parts = [_check_of(x) for x in t.types]
        if any(p is None for p in parts):
            return None
        checks = tuple(p for p in parts if p is not None)
        return lambda v: any(c(v) for c in checks)
    if isinstance(t, mi.StrType):
        return _str_check(t)
    if isinstance(t, mi.IntType):
        return _int_check(t)
    if isinstance(t, mi.BoolType):
        return lambda v: type(v) is bool
    if isinstance(t, mi.NoneType):
        return lambda v: v is None
    if isinstance(t, mi.LiteralType) and all(type(x) in (str, int) for x in t.values):
        values = frozenset((type(x), x) for x in t.values)  # 1 == True: compare the types too
        return lambda v: type(v) in (str, int) and (type(v), v) in values
    return None


def _str_check(t: mi.StrType) -> Check | None:
    if t.pattern is not None:
        return None
    low, high = t.min_length or 0, t.max_length
    if high is None:
        return lambda v: type(v) is str and len(v) >= low
    return lambda v: type(v) is str and low <= len(v) <= high


def _int_check(t: mi.IntType) -> Check | None:
    if t.multiple_of is not None:
        return None
    low, high = _INT64
    if t.ge is not None:
        low = max(low, t.ge)
    if t.gt is not None:
        low = max(low, t.gt + 1)
    if t.le is not None:
        high = min(high, t.le)
    if t.lt is not None:
        high = min(high, t.lt - 1)
    return lambda v: type(v) is int and low <= v <= high
