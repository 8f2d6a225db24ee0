"""The vendor SDK facts copied into the project (specs/vendor-sdk) and a walk of our models over them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect as mi

from aiofeishu._endpoint import Endpoint
from aiofeishu.project.endpoints import ALL as PROJECT_ENDPOINTS

FACTS = Path(__file__).resolve().parents[1] / "specs" / "vendor-sdk"
BEYOND: list[dict[str, Any]] = json.loads((FACTS / "beyond.json").read_text(encoding="utf-8"))[
    "endpoints"
]
BY_KEY = {e.key: e for e in PROJECT_ENDPOINTS}


def vendor_endpoints() -> list[Endpoint]:
    """Our endpoint for each of the vendor-SDK-only endpoints, in beyond.json's order."""
    return [BY_KEY[f"{b['method']} {b['path']}"] for b in BEYOND]


def example(endpoint: Endpoint) -> dict[str, Any]:
    path = FACTS / "examples" / f"{endpoint.group}.{endpoint.name}.json"
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


@cache
def _info(tp: Any) -> mi.Type:
    return mi.type_info(tp)


def _struct_of(t: mi.Type) -> mi.StructType | None:
    t = t.type if isinstance(t, mi.Metadata) else t
    if isinstance(t, mi.StructType):
        return t
    if isinstance(t, mi.UnionType):
        return next((s for s in map(_struct_of, t.types) if s is not None), None)
    return None


def _list_item(t: mi.Type) -> mi.Type | None:
    t = t.type if isinstance(t, mi.Metadata) else t
    if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return t.item_type
    if isinstance(t, mi.UnionType):
        return next((i for i in map(_list_item, t.types) if i is not None), None)
    return None


def _dict_values(t: mi.Type) -> mi.Type | None:
    t = t.type if isinstance(t, mi.Metadata) else t
    if isinstance(t, mi.DictType):
        return t.value_type
    if isinstance(t, mi.UnionType):
        return next((v for v in map(_dict_values, t.types) if v is not None), None)
    return None


Gap = tuple[str, str]  # (path in the example, "OurStruct.member" that is absent)


def missing(value: Any, t: mi.Type, where: str = "$") -> list[Gap]:
    """Members of ``value`` (wire JSON) that the model ``t`` has no field for."""
    if isinstance(value, dict):
        struct = _struct_of(t)
        if struct is not None:
            fields = {f.encode_name: f.type for f in struct.fields}
            owner = struct.cls.__name__
            gaps = [(f"{where}.{k}", f"{owner}.{k}") for k in value if k not in fields]
            for key, sub in value.items():
                if key in fields:
                    gaps += missing(sub, fields[key], f"{where}.{key}")
            return gaps
        values = _dict_values(t)
        if values is not None:
            return [g for k, sub in value.items() for g in missing(sub, values, f"{where}.{k}")]
        return []  # Any: kept whole
    if isinstance(value, list):
        item = _list_item(t)
        return [g for sub in value for g in missing(sub, item, f"{where}[]")] if item else []
    return []


def request_gaps(endpoint: Endpoint) -> list[Gap]:
    return missing(example(endpoint)["request"], _info(endpoint.request_type))


def response_gaps(endpoint: Endpoint) -> list[Gap]:
    return missing(example(endpoint)["response"], _info(endpoint.response_type))


def members(value: Any, where: str = "$") -> set[str]:
    """Every member path of a wire JSON value (lists by their elements, maps by their values)."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{where}.{k}"} | members(v, f"{where}.{k}")}
    if isinstance(value, list):
        return {p for v in value for p in members(v, f"{where}[]")}
    return set()


def without(value: Any, paths: set[str], where: str = "$") -> Any:
    """``value`` with the members at ``paths`` (as ``missing`` names them) removed."""
    if isinstance(value, dict):
        return {
            k: without(v, paths, f"{where}.{k}")
            for k, v in value.items()
            if f"{where}.{k}" not in paths
        }
    if isinstance(value, list):
        return [without(v, paths, f"{where}[]") for v in value]
    return value


def decoded(endpoint: Endpoint, body: dict[str, Any]) -> Any:
    from aiofeishu._base import dec_hook

    return msgspec.json.decode(
        msgspec.json.encode(body), type=endpoint.response_type, dec_hook=dec_hook
    )
