"""``key=value`` arguments for the CLI, read as the parameter's declared type, and the
parameter table ``aiofeishu endpoints NAME`` prints. Both read the request Struct."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec.inspect as mi

from aiofeishu._endpoint import Endpoint

__all__ = ["ArgumentError", "coerce_pairs", "describe_params"]

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
_TYPE_NAMES = {
    "StrType": "string",
    "IntType": "integer",
    "FloatType": "number",
    "BoolType": "boolean",
    "AnyType": "any",
    "DictType": "object",
}


class ArgumentError(ValueError):
    """A ``key=value`` the endpoint cannot take."""


def _bare(t: Any) -> Any:
    return _bare(t.type) if isinstance(t, mi.Metadata) else t


def _fields(endpoint: Endpoint) -> dict[str, mi.Field]:
    info = mi.type_info(endpoint.request_type)
    assert isinstance(info, mi.StructType)
    return {f.name: f for f in info.fields}


def _json(key: str, text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ArgumentError(f"{key}: expected {what} as JSON, got {text!r}") from None


def _scalar(key: str, text: str, t: Any) -> Any:
    if isinstance(t, mi.StrType):
        return text  # as typed: 6000000600 stays a string
    if isinstance(t, mi.IntType):
        try:
            return int(text)
        except ValueError:
            raise ArgumentError(f"{key}: expected an integer, got {text!r}") from None
    if isinstance(t, mi.FloatType):
        try:
            return float(text)
        except ValueError:
            raise ArgumentError(f"{key}: expected a number, got {text!r}") from None
    if isinstance(t, mi.BoolType):
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ArgumentError(f"{key}: expected true or false, got {text!r}")
    if isinstance(t, mi.LiteralType):
        for value in t.values:
            if str(value) == text:
                return value
        choices = ", ".join(str(v) for v in t.values)
        raise ArgumentError(f"{key}: expected one of {choices}, got {text!r}")
    return None


def coerce(key: str, text: str, declared: Any) -> Any:
    """``text`` as a value of ``declared`` (a msgspec.inspect type)."""
    t = _bare(declared)
    value = _scalar(key, text, t)
    if value is not None:
        return value
    if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        if text.lstrip().startswith("["):
            return _json(key, text, "a list")
        # The shell's way: a,b,c — each read as the item type.
        return [coerce(key, part, t.item_type) for part in text.split(",") if part]
    if isinstance(t, (mi.StructType, mi.DictType, mi.TypedDictType, mi.DataclassType)):
        value = _json(key, text, "an object")
        if not isinstance(value, dict):
            raise ArgumentError(f"{key}: expected a JSON object, got {text!r}")
        return value
    try:
        return json.loads(text)  # any / unions: JSON when it parses, else the text
    except ValueError:
        return text


def coerce_pairs(endpoint: Endpoint, pairs: Sequence[str]) -> dict[str, Any]:
    fields = _fields(endpoint)
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ArgumentError(f"{pair!r} is not key=value")
        found = fields.get(key)
        if found is None:
            raise ArgumentError(
                f"{endpoint.group}.{endpoint.name} has no parameter {key!r}; "
                f"it takes: {', '.join(fields)}"
            )
        args[key] = text if key in endpoint.file_params else coerce(key, text, found.type)
    return args


def type_name(declared: Any) -> str:
    t = _bare(declared)
    if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return f"list[{type_name(t.item_type)}]"
    if isinstance(t, mi.StructType):
        members = [f.name for f in t.fields]
        shown = ", ".join(members[:3]) + (", …" if len(members) > 3 else "")
        return f"{t.cls.__name__}{{{shown}}}"
    if isinstance(t, mi.LiteralType):
        return " | ".join(repr(v) for v in t.values)
    return _TYPE_NAMES.get(type(t).__name__, type(t).__name__.removesuffix("Type").lower())


def constraints(declared: Any) -> str:
    t = _bare(declared)
    rules = {
        ">": getattr(t, "gt", None),
        ">=": getattr(t, "ge", None),
        "<": getattr(t, "lt", None),
        "<=": getattr(t, "le", None),
        "min length ": getattr(t, "min_length", None),
        "max length ": getattr(t, "max_length", None),
        "pattern ": getattr(t, "pattern", None),
    }
    return ", ".join(f"{name}{value}" for name, value in rules.items() if value is not None)


def describe_params(endpoint: Endpoint) -> list[str]:
    """One line a parameter: name, where it goes, type, required, constraints, description."""
    where = {
        **dict.fromkeys(endpoint.path_params, "path"),
        **dict.fromkeys(endpoint.query_params, "query"),
        **dict.fromkeys(endpoint.body_params, "body"),
        **dict.fromkeys(endpoint.file_params, "file"),
    }
    rows = []
    for name, f in _fields(endpoint).items():
        description = (
            (f.type.extra_json_schema or {}) if isinstance(f.type, mi.Metadata) else {}
        ).get("description", "")
        rows.append(
            (
                name,
                where.get(f.encode_name, "body"),
                type_name(f.type),
                "required" if f.required else "optional",
                constraints(f.type),
                description,
            )
        )
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(5)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True))
        + ("  " + row[5] if row[5] else "")
        for row in rows
    ]
