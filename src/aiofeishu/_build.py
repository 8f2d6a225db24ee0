"""Building a call: validate the arguments against the spec, encode them, fill the path.

Everything here runs before a call takes a rate-limit slot, so bad input is refused
unsent (RequestValidationError naming the method, the endpoint and the field) and costs
no quota.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
from msgspec import UNSET

from aiofeishu._api import FileUpload, RequestOptions
from aiofeishu._base import enc_hook
from aiofeishu._endpoint import Endpoint
from aiofeishu._plan import BODY, FILE, PATH, QUERY, Plan, plan_of
from aiofeishu.errors import RequestValidationError, validation_path

__all__ = ["Prepared", "fill_path", "prepare"]

_INT64 = (-(2**63), 2**63 - 1)
_RESERVED_HEADERS = frozenset(
    {"x-plugin-token", "x-user-key", "authorization", "x-idem-uuid", "content-type", "host"}
)


# Made on every call, so not frozen: a frozen dataclass's __init__ costs about four times more.
@dataclass(slots=True, repr=False)
class Prepared:
    """A validated call: everything needed to send it (and send it again). Read-only."""

    endpoint: Endpoint
    path: str
    query: dict[str, str] | None
    body: bytes | None
    form: dict[str, Any] | None
    files: dict[str, Any] | None
    headers: Mapping[str, str] | None = None  # RequestOptions.extra_headers
    plan: Plan | None = None  # the endpoint's, when the builder had it at hand

    def __repr__(self) -> str:  # the body may carry a secret (the token endpoints)
        return f"Prepared({self.endpoint.method} {self.path})"

    @property
    def method_name(self) -> str:
        return f"{self.endpoint.group}.{self.endpoint.name}"


def _refuse(endpoint: Endpoint, message: str, field: str | None = None) -> RequestValidationError:
    return RequestValidationError(
        endpoint.key, message, field, method_name=f"{endpoint.group}.{endpoint.name}"
    )


def fill_path(endpoint: Endpoint, values: Mapping[str, Any]) -> str:
    """The endpoint's path with each ``:name`` replaced by its percent-encoded value.

    ``.`` and ``..`` are refused: they would survive encoding and change the route.
    """
    return _fill(plan_of(endpoint), values)


def _fill(plan: Plan, values: Mapping[str, Any]) -> str:
    parts = plan.path_parts
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 3:  # one placeholder, the common case
        return parts[0] + _path_piece(plan, parts[1], values[parts[1]]) + parts[2]
    filled = [parts[0]]
    for i in range(1, len(parts), 2):  # odd parts are placeholder names, even ones literals
        filled.append(_path_piece(plan, parts[i], values[parts[i]]))
        filled.append(parts[i + 1])
    return "".join(filled)


def _path_piece(plan: Plan, name: str, value: Any) -> str:
    text = value if type(value) is str else _path_text(value)
    if (text.isalnum() and text.isascii()) or _PATH_SAFE(text):
        return text
    if text in ("", ".", ".."):
        raise _refuse(plan.endpoint, f"`{name}` may not be {text!r} in a path", f"$.{name}")
    return quote(text, safe="")


# Nothing to encode (most keys and ids; isalnum + isascii, tried first, is quicker still).
_PATH_SAFE = re.compile(r"[A-Za-z0-9_\-]+").fullmatch


def _path_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def _wire_safe(value: Any) -> bool:
    """False when ``value`` holds what JSON would carry wrongly (see _check_wire_values)."""
    if isinstance(value, dict):
        return all(_wire_safe(v) for v in value.values())
    if isinstance(value, list):
        return all(_wire_safe(v) for v in value)
    if isinstance(value, int):
        return isinstance(value, bool) or _INT64[0] <= value <= _INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    return not isinstance(value, (bytes, bytearray, memoryview))


def _check_wire_values(endpoint: Endpoint, value: Any, where: str) -> None:
    """Refuse what JSON would carry wrongly: bytes (msgspec sends base64), integers beyond
    int64 (the vendor's ids are int64) and non-finite floats (sent as null)."""
    if _wire_safe(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_wire_values(endpoint, item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_wire_values(endpoint, item, f"{where}[{i}]")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raise _refuse(endpoint, f"bytes are not a JSON value (at {where})", where)
    elif isinstance(value, int):
        raise _refuse(endpoint, f"{value} is outside int64 (at {where})", where)
    else:
        raise _refuse(endpoint, f"{value} is not a finite number (at {where})", where)


def _check_file(endpoint: Endpoint, name: str, value: Any) -> None:
    content = value.content if isinstance(value, FileUpload) else value
    if isinstance(content, (bytes, bytearray, AsyncIterable)):
        return
    if isinstance(content, (str, os.PathLike)):
        path = Path(content)
        if not path.is_file():
            raise _refuse(endpoint, f"`{name}`: no file at {str(path)!r}", f"$.{name}")
        if not os.access(path, os.R_OK):
            raise _refuse(endpoint, f"`{name}`: {str(path)!r} is not readable", f"$.{name}")
        return
    raise _refuse(
        endpoint,
        f"`{name}` must be a path, bytes, an async byte stream or FileUpload, "
        f"got {type(value).__name__}",
        f"$.{name}",
    )


def _to_plain(endpoint: Endpoint, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as JSON-ready builtins, refusing what JSON would carry wrongly."""
    if all(type(v) in _FLAT for v in values.values()):
        plain = values  # already builtins (the common case: ids, keys, names)
    else:
        try:
            plain = msgspec.to_builtins(
                values, enc_hook=enc_hook, builtin_types=(bytes, bytearray, memoryview)
            )
        except (TypeError, NotImplementedError, ValueError) as exc:
            message = str(exc)
            raise _refuse(endpoint, message) from None
        except RecursionError:
            raise _refuse(endpoint, "arguments are nested too deeply") from None
    for value in plain.values():
        if type(value) is not str and not _wire_safe(value):
            _check_wire_values(endpoint, plain, "$")
    return plain


_FLAT = frozenset({str, int, bool, type(None)})


def _validate(endpoint: Endpoint, plain: dict[str, Any], files: dict[str, Any]) -> None:
    checked = {**plain, **dict.fromkeys(files, "<file>")} if files else plain
    try:
        msgspec.convert(checked, endpoint.request_type)
    except msgspec.ValidationError as exc:
        message = str(exc)
    else:
        return
    path = validation_path(message)
    if path is not None and "[...]" in path:
        path = _map_key_path(endpoint.request_type, checked, path)
    raise _refuse(endpoint, message, path)


_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+|\.\.\.)\]")


def _map_key_path(request_type: type[Any], args: dict[str, Any], path: str) -> str:
    """msgspec writes a failing map entry as ``[...]``: name its key (``$.features.k1``) by
    finding the entry whose removal makes that error go away."""
    parts = [m.group(1) or m.group(2) for m in _SEGMENT.finditer(path)]
    node: Any = args
    named = "$"
    for i, part in enumerate(parts):
        if part == "..." and isinstance(node, dict):
            culprit = next((k for k in node if _fails_with(request_type, args, parts[:i], k)), None)
            if culprit is None:
                return path
            named += f".{culprit}"
            node = node[culprit]
        elif part.isdigit() and isinstance(node, list) and int(part) < len(node):
            named += f"[{part}]"
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            named += f".{part}"
            node = node[part]
        else:
            return path
    return named


def _fails_with(request_type: type[Any], args: dict[str, Any], at: list[str], key: str) -> bool:
    """Whether the arguments still fail when the map at ``at`` keeps only ``key``."""
    trimmed = msgspec.json.decode(msgspec.json.encode(args))  # a deep copy to cut
    node = trimmed
    for part in at:
        node = node[int(part)] if part.isdigit() else node[part]
    for other in [k for k in node if k != key]:
        del node[other]
    try:
        msgspec.convert(trimmed, request_type)
    except msgspec.ValidationError:
        return True
    return False


def _extras(
    endpoint: Endpoint, plain: dict[str, Any], options: RequestOptions
) -> tuple[dict[str, Any], dict[str, str]]:
    """RequestOptions.extra_body / extra_query: members the specs do not know yet."""
    known = set(endpoint.path_params + endpoint.query_params + endpoint.body_params)
    body = dict(options.extra_body or {})
    query = {k: _query_value(v) for k, v in (options.extra_query or {}).items()}
    clash = sorted((set(body) | set(query)) & known)
    if clash:
        raise _refuse(
            endpoint, f"{clash} are arguments of this method: pass them as arguments, not extras"
        )
    if body:
        body = _to_plain(endpoint, body)
    return body, query


def check_headers(endpoint: Endpoint, headers: Mapping[str, str] | None) -> None:
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise _refuse(endpoint, "extra_headers must map str to str")
        if name.lower() in _RESERVED_HEADERS:
            raise _refuse(endpoint, f"extra_headers may not set {name} (the client sets it)")
        if any(c in name + value for c in "\r\n\0"):
            raise _refuse(endpoint, f"header {name!r} contains a line break or NUL")


def prepare(endpoint: Endpoint, args: Mapping[str, Any], options: RequestOptions) -> Prepared:
    """Validate ``args`` against the endpoint's request model and encode them."""
    plan = plan_of(endpoint)
    if not (options.extra_body or options.extra_query or options.extra_headers):
        quick = _prepare_plain(plan, args)
        if quick is not None:
            return quick
    return _prepare_checked(plan, args, options)


def _prepare_plain(plan: Plan, args: Mapping[str, Any]) -> Prepared | None:
    """The common call, all of whose arguments are plain values its plan accepts at once
    (ids, keys, names: what msgspec would accept too); None sends it through full
    validation, which also words the error."""
    quick = plan.quick
    path_values: dict[str, Any] = {}
    query: dict[str, str] | None = None
    body_values: dict[str, Any] = {}
    required = 0
    for name, value in args.items():
        if value is UNSET:
            continue
        found = quick.get(name)
        if found is None:
            return None
        check, where, is_required = found
        if not check(value):
            return None
        if where == PATH:
            path_values[name] = value
        elif where == QUERY:
            if query is None:
                query = {}
            query[name] = _query_value(value)
        else:
            body_values[name] = value
        required += is_required
    if required != plan.required_count:
        return None
    path = _fill(plan, path_values)
    body = msgspec.json.encode(body_values) if body_values or plan.sends_body else None
    return Prepared(plan.endpoint, path, query, body, None, None, None, plan)


def _prepare_checked(plan: Plan, args: Mapping[str, Any], options: RequestOptions) -> Prepared:
    endpoint, layout = plan.endpoint, plan.layout
    values: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for name, value in args.items():
        if value is msgspec.UNSET:
            continue
        if layout.get(name) == FILE:
            _check_file(endpoint, name, value)
            files[name] = value
        else:
            values[name] = value
    plain = _to_plain(endpoint, values)
    _validate(endpoint, plain, files)
    path_values: dict[str, Any] = {}
    query: dict[str, str] = {}
    body_values: dict[str, Any] = {}
    for name, value in plain.items():
        where = layout.get(name, BODY)
        if where == BODY:
            body_values[name] = value
        elif where == PATH:
            path_values[name] = value
        else:
            query[name] = _query_value(value)
    if options.extra_body or options.extra_query:
        extra_body, extra_query = _extras(endpoint, plain, options)
        query.update(extra_query)
        body_values.update(extra_body)
    if options.extra_headers:
        check_headers(endpoint, options.extra_headers)
    path = _fill(plan, path_values)
    headers = options.extra_headers or None
    if endpoint.multipart:
        return Prepared(endpoint, path, query or None, None, body_values, files, headers, plan)
    body: bytes | None = None
    if body_values or plan.sends_body:
        body = msgspec.json.encode(body_values)
    return Prepared(endpoint, path, query or None, body, None, None, headers, plan)
