"""specs/README.md's reference of the spec language, generated from language.py's Structs."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec

from .language import LANGUAGE, applies_to
from .render import render, replace_region

START, END = "<!-- language:start -->", "<!-- language:end -->"
PLAIN = {str: "string", int: "integer", float: "number", bool: "boolean"}


def type_text(kind: Any) -> str:
    """A field's type as the reference prints it (markdown, pipes escaped)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Annotated:
        pattern = next((m.pattern for m in args[1:] if getattr(m, "pattern", None)), None)
        return type_text(args[0]) + (f" matching `{pattern}`" if pattern else "")
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_text(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return " \\| ".join(f"`{v}`" for v in args)
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"map of {type_text(args[1])}"
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return f"[{kind.__name__}](#{kind.__name__.lower()})"
    return PLAIN.get(kind, "any")


def _default_text(field: msgspec.structs.FieldInfo) -> str:
    if field.required:
        return "**required**"
    value = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
    if value in (None, "", [], {}):
        return ""
    return "`" + (str(value).lower() if isinstance(value, bool) else str(value)) + "`"


def _meaning(cls: type[Any], field: msgspec.structs.FieldInfo) -> str:
    hint = typing.get_type_hints(cls, include_extras=True)[field.name]
    metas = [m for m in typing.get_args(hint) if isinstance(m, msgspec.Meta)]
    text = next((m.description for m in reversed(metas) if m.description), "")
    kinds = applies_to(field.name) if cls.__name__ == "Schema" else ()
    if kinds:
        text += f" (on {' / '.join(kinds)})"
    return text.replace("|", "\\|")


def section(cls: type[Any]) -> dict[str, Any]:
    """One Struct's table; a Struct extending another of the language lists only its own keys."""
    summary = " ".join((cls.__doc__ or "").split())
    base = next((b for b in cls.__bases__ if b in LANGUAGE), None)
    inherited = set(base.__struct_fields__) if base else set()
    if base:
        summary += f" Also every key of {type_text(base)}."
    return {
        "name": cls.__name__,
        "summary": summary,
        "rows": [
            (f.encode_name, type_text(f.type), _default_text(f), _meaning(cls, f))
            for f in msgspec.structs.fields(cls)
            if f.name not in inherited
        ],
    }


def with_language_reference(document: str) -> str:
    """`document` with its language reference (between the language markers) regenerated."""
    reference = render(
        "spec_language.md.jinja", start=START, end=END, sections=map(section, LANGUAGE)
    )
    return replace_region(document, START, END, reference)
