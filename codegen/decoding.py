"""Decode spec files into the language's Structs; errors name the file and the key path.

msgspec reports a failing dict entry as ``$.endpoints[...]``; the path is completed
here by finding the entry that fails, so a message reads
``project/comments.yaml: endpoints.create.params.work_item_id.type: …``.
"""

from __future__ import annotations

import csv
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

T = TypeVar("T")
_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+|\.\.\.)\]")
# The safe loader, libyaml's when built with it (the same documents, several times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_AT = re.compile(r"^(?P<message>.*?) - at (?:`key` in )?`\$(?P<path>[^`]*)`$")


class SpecError(Exception):
    """A spec file is wrong; the message names the file and the place."""


def fail(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def load_yaml(path: Path, root: Path, kind: type[T]) -> T:
    """One YAML file as `kind`; an empty file is an empty document."""
    where = str(path.relative_to(root))
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise fail(where, f"not valid YAML: {exc}") from None
    return convert({} if data is None else data, kind, where)


def load_tsv(path: Path, root: Path, kind: type[T]) -> list[T]:
    """One tab-separated file, a `kind` per row (columns by the header)."""
    where = str(path.relative_to(root))
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [convert(row, kind, f"{where}: line {n}") for n, row in enumerate(rows, start=2)]


def convert(data: Any, kind: type[T], where: str) -> T:
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        try:
            error = _located(exc, data, kind, where)
        except (LookupError, StopIteration, TypeError, AssertionError):
            error = fail(where, str(exc))  # a type shape the path walk does not know
        raise error from None


def _located(exc: msgspec.ValidationError, data: Any, kind: Any, where: str) -> SpecError:
    found = _AT.match(str(exc))
    message = found["message"] if found else str(exc)
    steps = _STEP.findall(found["path"]) if found else []
    is_key = "`key` in" in str(exc)
    path: list[str] = []
    for name, index in steps:
        kind, data, step = _step(kind, data, name or index)
        path.append(step)
    if is_key:
        bad = _failing(data, _unwrap(kind, data), key=True)
        message = f"key {bad!r}: {message}"
    else:
        message = _explained(message, kind)
    place = "".join(path).lstrip(".")
    return fail(f"{where}: {place}" if place else where, message)


def _step(kind: Any, data: Any, step: str) -> tuple[Any, Any, str]:
    """One step down the path: (the type there, the data there, the step as written)."""
    kind = _unwrap(kind, data)
    if step == "...":
        entry = _failing(data, kind, key=False)
        return typing.get_args(kind)[1], data[entry], f".{entry}"
    if step.isdigit():
        return typing.get_args(kind)[0], data[int(step)], f"[{step}]"
    field = next(f for f in msgspec.structs.fields(kind) if f.encode_name == step)
    return field.type, data[step], f".{step}"


def _failing(mapping: dict[Any, Any], kind: Any, *, key: bool) -> Any:
    """The first entry of `mapping` whose key (or value) the dict type refuses."""
    key_type, value_type = typing.get_args(kind)
    for entry, value in mapping.items():
        try:
            msgspec.convert(entry if key else value, key_type if key else value_type, strict=True)
        except msgspec.ValidationError:
            return entry
    raise AssertionError("msgspec refused an entry that converts alone")


def _unwrap(kind: Any, data: Any) -> Any:
    """The arm of an Annotated / Optional / union type that `data` was decoded as."""
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            wanted = dict if isinstance(data, dict) else list if isinstance(data, list) else None
            arms = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = next((a for a in arms if _container(a) is wanted), arms[0])
        else:
            return kind


def _container(kind: Any) -> type | None:
    """dict for a mapping or Struct type, list for a list type, else None."""
    inner = _unwrap(kind, None) if typing.get_origin(kind) is typing.Annotated else kind
    origin = typing.get_origin(inner) or inner
    if origin is dict or (isinstance(origin, type) and issubclass(origin, msgspec.Struct)):
        return dict
    return list if origin is list else None


def _explained(message: str, kind: Any) -> str:
    """msgspec's message, with what is allowed where it helps."""
    plain = _unwrap(kind, {})
    unknown = re.match(r"Object contains unknown field `(.*)`", message)
    if unknown and isinstance(plain, type) and issubclass(plain, msgspec.Struct):
        allowed = sorted(f.encode_name for f in msgspec.structs.fields(plain))
        close = difflib.get_close_matches(unknown[1], allowed, n=1)
        guess = f" (did you mean `{close[0]}`?)" if close else ""
        return f"unknown key `{unknown[1]}`{guess}; allowed: {', '.join(allowed)}"
    choices = _literal_values(kind)
    if message.startswith("Invalid enum value") and choices:
        return f"{message}; one of {', '.join(map(str, choices))}"
    return message


def _literal_values(kind: Any) -> tuple[Any, ...]:
    plain = _unwrap(kind, "")
    if typing.get_origin(plain) is typing.Literal:
        return typing.get_args(plain)
    return ()
