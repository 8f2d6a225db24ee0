"""Python annotations of spec schemas, mirroring projection.py's class names.

One walk serves both sides: request arguments (nested Structs also accept plain
mappings, enums are Literals, binary strings are files) and response values (as the
response models decode them; open schemas are their lossless wrappers).
"""

from __future__ import annotations

from dataclasses import dataclass

from .language import Schema
from .spec import Platform, camel

SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


@dataclass(frozen=True)
class Dialect:
    """How one side of the API spells a schema."""

    struct_module: str  # where Structs of the schemas live
    sequence: str
    mapping: str
    accepts_mappings: bool  # requests: a Struct argument may be a plain mapping
    open_prefix: str | None = None  # responses: module of the open wrappers


REQUEST = Dialect("rq", "Sequence", "Mapping", accepts_mappings=True)
RESPONSE = Dialect("m", "list", "dict", accepts_mappings=False, open_prefix="blocks.")
# Inside blocks.py the open wrappers are local names.
RESPONSE_IN_BLOCKS = Dialect("m", "list", "dict", accepts_mappings=False, open_prefix="")


def python_type(schema: Schema, owner: str, platform: Platform, dialect: Dialect) -> str:
    """The annotation of `schema`; `owner` names the Struct an inline object became."""
    if schema.ref is not None:
        is_open = platform.schemas[schema.ref].open
        text = _struct(schema.ref, is_open, dialect)
        if dialect.accepts_mappings and not is_open and schema.ref in response_structs(platform):
            # What was fetched can be sent back: the response model of the same schema.
            text += f" | m.{schema.ref}"
    elif schema.type == "any":
        return "Any"
    elif schema.type == "array" and schema.items is not None:
        item = python_type(schema.items, owner + "Item", platform, dialect)
        text = f"{dialect.sequence}[{item}]"
    elif schema.type == "object":
        text = _object(schema, owner, platform, dialect)
    elif dialect.accepts_mappings and schema.type == "string" and schema.format == "binary":
        text = "FileInput"
    elif dialect.accepts_mappings and schema.enum is not None:
        text = "Literal[" + ", ".join(repr(v) for v in schema.enum) + "]"
    else:
        text = SCALARS[str(schema.type)]
    if not dialect.accepts_mappings:  # responses: the other shapes a source gives
        for i, alt in enumerate(schema.also_accepts or ()):
            text += " | " + python_type(alt, owner + f"Alt{i}", platform, dialect)
    return text + " | None" if schema.nullable else text


_response_structs: dict[int, frozenset[str]] = {}


def response_structs(platform: Platform) -> frozenset[str]:
    """Shared schemas the response models define (reachable from some response)."""
    key = id(platform)
    if key not in _response_structs:
        from .projection import build

        document = build(platform, strict=False, open_module="")
        _response_structs[key] = frozenset(document.get("definitions", {}))
    return _response_structs[key]


def _struct(name: str, is_open: bool, dialect: Dialect) -> str:
    if dialect.accepts_mappings:
        return f"{dialect.struct_module}.{name} | Mapping[str, Any]"
    if is_open and dialect.open_prefix is not None:
        return dialect.open_prefix + name
    return f"{dialect.struct_module}.{name}"


def _object(schema: Schema, owner: str, platform: Platform, dialect: Dialect) -> str:
    if schema.properties:
        return _struct(owner, False, dialect)
    if schema.additional is not None:
        value = python_type(schema.additional, owner + "Value", platform, dialect)
        return f"{dialect.mapping}[str, {value}]"
    return f"{dialect.mapping}[str, Any]"


def response_item_type(schema: Schema, owner: str, platform: Platform) -> str:
    """The type a paginator yields: the element of the items array in the response model."""
    if schema.type == "array" and schema.items is not None:
        return python_type(schema.items, owner + "Item", platform, RESPONSE)
    return python_type(schema, owner, platform, RESPONSE)


def resolve_items(
    response: dict[str, Schema],
    dotted: str,
    owner: str,
    platform: Platform,
    *,
    single_ok: bool = False,
) -> tuple[Schema, str]:
    """Follow a dotted path (data.list) through the response: (the array schema, its owner).

    ``single_ok``: the member may be one value per page (search_after pages of a string).
    """
    parts = dotted.split(".")
    schema = response[parts[0]]
    owner = owner + camel(parts[0])
    for part in parts[1:]:
        if schema.ref is not None:
            owner = schema.ref
            schema = platform.schemas[schema.ref]
        schema = schema.properties[part]
        owner = owner + camel(part)
    if schema.type != "array" and schema.ref is None and not single_ok:
        raise ValueError(f"{dotted} is not an array")
    return schema, owner
