"""Python annotations for generated method signatures, mirroring projection.py's names."""

from __future__ import annotations

from typing import Any

from .spec import Platform, camel


def annotation(schema: dict[str, Any], owner: str, platform: Platform, *, mod: str) -> str:
    """Annotation of an argument: nested Structs also accept plain mappings."""
    if "ref" in schema:
        text = f"{mod}.{schema['ref']} | Mapping[str, Any]"
    else:
        kind = schema["type"]
        if kind == "any":
            return "Any"
        if kind == "array":
            text = f"Sequence[{annotation(schema['items'], owner + 'Item', platform, mod=mod)}]"
        elif kind == "object":
            if schema.get("properties"):
                text = f"{mod}.{owner} | Mapping[str, Any]"
            elif "additional" in schema:
                inner = annotation(schema["additional"], owner + "Value", platform, mod=mod)
                text = f"Mapping[str, {inner}]"
            else:
                text = "Mapping[str, Any]"
        elif kind == "string" and schema.get("format") == "binary":
            text = "FileInput"
        elif "enum" in schema:
            text = "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
        else:
            text = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}[kind]
    if schema.get("nullable"):
        text += " | None"
    return text


def response_type(
    schema: dict[str, Any], owner: str, platform: Platform, *, open_prefix: str = "blocks."
) -> str:
    """Annotation of a value as the response models decode it (open schemas → their wrappers)."""
    if "ref" in schema:
        name = schema["ref"]
        text = f"{open_prefix}{name}" if platform.schemas[name].get("open") else f"m.{name}"
    else:
        kind = schema["type"]
        if kind == "any":
            return "Any"
        if kind == "array":
            text = f"list[{response_type(schema['items'], owner + 'Item', platform, open_prefix=open_prefix)}]"
        elif kind == "object" and schema.get("properties"):
            text = f"m.{owner}"
        elif kind == "object" and "additional" in schema:
            text = f"dict[str, {response_type(schema['additional'], owner + 'Value', platform, open_prefix=open_prefix)}]"
        elif kind == "object":
            text = "dict[str, Any]"
        else:
            text = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}[kind]
    for i, alt in enumerate(schema.get("also_accepts") or []):
        text += " | " + response_type(alt, owner + f"Alt{i}", platform, open_prefix=open_prefix)
    return text + " | None" if schema.get("nullable") else text


def response_item_type(schema: dict[str, Any], owner: str, platform: Platform) -> str:
    """The type a paginator yields: the element of the items array in the response model."""
    if schema.get("type") == "array":
        return response_type(schema["items"], owner + "Item", platform)
    return response_type(schema, owner, platform)


def resolve_items(
    ep_response: dict[str, Any], dotted: str, owner: str, platform: Platform
) -> dict[str, Any]:
    """Follow a dotted path (data.list) through the response schema; returns the array schema."""
    parts = dotted.split(".")
    schema = ep_response[parts[0]]
    owner = owner + camel(parts[0])
    for part in parts[1:]:
        if "ref" in schema:
            owner = schema["ref"]
            schema = platform.schemas[schema["ref"]]
        schema = schema["properties"][part]
        owner = owner + camel(part)
    if schema.get("type") != "array" and "ref" not in schema:
        raise ValueError(f"{dotted} is not an array")
    return {"schema": schema, "owner": owner}
