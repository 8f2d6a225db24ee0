"""Calling every endpoint generically: valid arguments synthesised from its request model,
wrong ones derived from them, and one way to invoke a generated method whatever it returns.

Shared by the fuzz tests (tests/test_fuzz_requests.py, tests/test_fuzz_responses.py) so
that no endpoint needs hand-written arguments.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import inspect as mi

from aiofeishu import OpenClient, ProjectClient
from aiofeishu._api import Download, Paginated
from aiofeishu._endpoint import Endpoint
from aiofeishu.open.endpoints import ALL as OPEN_ENDPOINTS
from aiofeishu.project.endpoints import ALL as PROJECT_ENDPOINTS
from aiofeishu.rate_classes import RATE_CLASSES

ALL_ENDPOINTS: tuple[Endpoint, ...] = (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS)
FILE_BYTES = b"%PDF-fuzz"
_MAX_DEPTH = 8  # recursive models (rich-text tables) stop here; only required members go deeper


def endpoint_id(endpoint: Endpoint) -> str:
    return f"{endpoint.platform}.{endpoint.group}.{endpoint.name}"


def method_of(client: Any, endpoint: Endpoint) -> Callable[..., Any]:
    return getattr(getattr(client, endpoint.group), endpoint.name)  # type: ignore[no-any-return]


async def invoke(client: Any, endpoint: Endpoint, kwargs: dict[str, Any]) -> Any:
    """Call the endpoint's method and run it to its end: await a call or one page, read a
    download whole. Returns the result (the bytes of a download)."""
    result = method_of(client, endpoint)(**kwargs)
    if isinstance(result, Download):
        return await result.read()
    if isinstance(result, Paginated) or inspect.isawaitable(result):
        return await result
    raise AssertionError(f"{endpoint_id(endpoint)} returned {type(result).__name__}")


# --------------------------------------------------------------------------------------------
# Types of a request model, unwrapped


def unwrap(info: mi.Type) -> mi.Type:
    """The type behind Annotated metadata and ``X | None`` (the member's real kind)."""
    while True:
        if isinstance(info, mi.Metadata):
            info = info.type
        elif isinstance(info, mi.UnionType):
            kinds = [t for t in info.types if not isinstance(t, mi.NoneType)]
            if len(kinds) != 1:
                return info
            info = kinds[0]
        else:
            return info


def fields_of(endpoint: Endpoint) -> tuple[mi.Field, ...]:
    info = mi.type_info(endpoint.request_type)
    assert isinstance(info, mi.StructType)
    return info.fields


def field_types(endpoint: Endpoint) -> dict[str, mi.Type]:
    return {f.name: unwrap(f.type) for f in fields_of(endpoint)}


# --------------------------------------------------------------------------------------------
# Valid values


def _valid_str(info: mi.StrType) -> str:
    text = "x1"
    if info.pattern:
        text = "https://example.test/x1" if info.pattern.startswith("^https?://") else text
        assert re.search(info.pattern, text), f"no sample value for the pattern {info.pattern}"
    if info.min_length and len(text) < info.min_length:
        text = text.ljust(info.min_length, "x")
    if info.max_length is not None:
        text = text[: info.max_length]
    return text


def _valid_number(info: mi.IntType | mi.FloatType, one: float) -> float:
    low = info.ge if info.ge is not None else info.gt
    high = info.le if info.le is not None else info.lt
    value = one
    if low is not None and value <= low:
        value = low + (one if info.gt is not None else 0)
    if high is not None and value >= high:
        value = high - (one if info.lt is not None else 0)
    return value


def valid_value(info: mi.Type, depth: int = 0) -> Any:
    """A plain (JSON-shaped) value the strict request model accepts for ``info``."""
    info = unwrap(info)
    if isinstance(info, mi.StrType):
        return _valid_str(info)
    if isinstance(info, mi.BoolType):
        return True
    if isinstance(info, mi.IntType):
        return int(_valid_number(info, 1))
    if isinstance(info, mi.FloatType):
        return float(_valid_number(info, 1.0))
    if isinstance(info, mi.LiteralType):
        return info.values[0]
    if isinstance(info, mi.EnumType):
        return next(iter(info.cls)).value
    if isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        count = max(1, info.min_length or 0) if depth < _MAX_DEPTH else info.min_length or 0
        return [valid_value(info.item_type, depth + 1) for _ in range(count)]
    if isinstance(info, mi.DictType):
        return {"k1": valid_value(info.value_type, depth + 1)}
    if isinstance(info, mi.StructType):
        return {
            f.encode_name: valid_value(f.type, depth + 1)
            for f in info.fields
            if f.required or (depth < 2 and _is_scalar(f.type))
        }
    if isinstance(info, mi.UnionType):
        return valid_value(info.types[0], depth)
    if isinstance(info, (mi.AnyType, mi.NoneType)):
        return "x1"
    raise AssertionError(f"no sample value for {info!r}")


def _is_scalar(info: mi.Type) -> bool:
    return isinstance(unwrap(info), (mi.StrType, mi.IntType, mi.BoolType, mi.LiteralType))


def baseline(endpoint: Endpoint) -> dict[str, Any]:
    """Arguments of the endpoint's method: every required one, valid; files as bytes."""
    args: dict[str, Any] = {}
    for f in fields_of(endpoint):
        if not f.required:
            continue
        args[f.name] = FILE_BYTES if f.name in endpoint.file_params else valid_value(f.type)
    return args


# --------------------------------------------------------------------------------------------
# Wrong values


def wrong_type(info: mi.Type) -> Any:
    """A value of another JSON kind than ``info`` (None when every kind is accepted)."""
    info = unwrap(info)
    if isinstance(info, mi.StrType):
        return 12345
    if isinstance(info, (mi.IntType, mi.FloatType)):
        return "12345"
    if isinstance(info, mi.BoolType):
        return "true"
    if isinstance(info, mi.LiteralType):
        return 987654 if isinstance(info.values[0], str) else "not-a-member"
    if isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return 42
    if isinstance(info, (mi.StructType, mi.DictType)):
        return ["not", "an", "object"]
    return None


@dataclass(frozen=True)
class Leaf:
    """A member inside an argument: its msgspec path (``$.task.summary``) and type."""

    where: str
    keys: tuple[str | int, ...]
    info: mi.Type


def leaves(name: str, info: mi.Type, value: Any) -> Iterator[Leaf]:
    """Every scalar member reachable in ``value`` (a valid value of ``info``), depth first."""
    yield from _leaves(f"$.{name}", (), unwrap(info), value)


def _leaves(where: str, keys: tuple[str | int, ...], info: mi.Type, value: Any) -> Iterator[Leaf]:
    if isinstance(info, mi.StructType) and isinstance(value, dict):
        for f in info.fields:
            if f.encode_name in value:
                yield from _leaves(
                    f"{where}.{f.encode_name}",
                    (*keys, f.encode_name),
                    unwrap(f.type),
                    value[f.encode_name],
                )
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        if isinstance(value, list) and value:
            yield from _leaves(f"{where}[0]", (*keys, 0), unwrap(info.item_type), value[0])
    elif isinstance(info, mi.DictType) and isinstance(value, dict) and value:
        key = next(iter(value))
        yield from _leaves(f"{where}.{key}", (*keys, key), unwrap(info.value_type), value[key])
    else:
        yield Leaf(where, keys, info)


def replaced(value: Any, keys: tuple[str | int, ...], new: Any) -> Any:
    """A copy of ``value`` with the member at ``keys`` set to ``new``."""
    if not keys:
        return new
    copy = msgspec.json.decode(msgspec.json.encode(value))
    target = copy
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = new
    return copy


# --------------------------------------------------------------------------------------------
# Clients


def unlimited() -> dict[str, None]:
    """``rate_limits=`` lifting every rate class (the fuzz sends thousands of calls)."""
    return dict.fromkeys(RATE_CLASSES)


def project_client(transport: Any, **options: Any) -> ProjectClient:
    options.setdefault("rate_limits", unlimited())
    return ProjectClient(
        "MII_FUZZ", "fuzz-secret", user_key="u-fuzz", transport=transport, **options
    )


def open_client(transport: Any, **options: Any) -> OpenClient:
    options.setdefault("rate_limits", unlimited())
    return OpenClient("cli_fuzz", "fuzz-secret", transport=transport, **options)


def client_for(endpoint: Endpoint, transport: Any, **options: Any) -> ProjectClient | OpenClient:
    if endpoint.platform == "project":
        return project_client(transport, **options)
    return open_client(transport, **options)
