"""Project the specs onto JSON Schema documents for datamodel-code-generator.

Two projections per platform:
- requests: strict (required members, enums as Literal, constraints kept);
- responses: forward compatible (nothing required, nulls tolerated, enums and
  constraints documented only, open block types decoded by a lossless wrapper).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .language import Schema
from .spec import Endpoint, Platform, camel

ENVELOPE_BASES = {
    "project": "aiofeishu._base.ProjectResponse",
    "authen": "aiofeishu._base.AuthenResponse",
    "open": "aiofeishu._base.OpenResponse",
}


# Request constraints: the spec's key → JSON Schema's.
CONSTRAINTS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "pattern": "pattern",
}


def _describe(schema: Schema, *, relaxed: bool) -> str | None:
    text = schema.description
    parts = [str(text)] if text else []
    if relaxed and schema.enum is not None:
        parts.append("Known values: " + ", ".join(map(str, schema.enum)) + ".")
    if schema.deprecated:
        parts.append("Deprecated.")
    return " ".join(parts) or None


class Projector:
    def __init__(self, platform: Platform, *, strict: bool, open_module: str) -> None:
        self.platform = platform
        self.strict = strict
        self.open_module = open_module
        self.defs: dict[str, dict[str, Any]] = {}
        self._pending: list[str] = []

    # -- schemas ---------------------------------------------------------------
    def ref(self, name: str) -> dict[str, Any]:
        schema = self.platform.schemas[name]
        if not self.strict and schema.open:
            return {"customTypePath": f"{self.open_module}.{name}"}
        if name not in self.defs and name not in self._pending:
            self._pending.append(name)
            self.defs[name] = {}
            self.defs[name] = self.object(schema, name)
            self._pending.remove(name)
        return {"$ref": f"#/definitions/{name}"}

    def node(self, schema: Schema, owner: str, *, member: bool = False) -> dict[str, Any]:
        out = self.ref(schema.ref) if schema.ref is not None else self.shape(schema, owner)
        if not self.strict and schema.also_accepts:
            # Another source (the vendor SDK) gives this member another shape: decode either.
            alts = [self.node(alt, owner + f"Alt{i}") for i, alt in enumerate(schema.also_accepts)]
            out = {"anyOf": [out, *alts]}
        # Responses tolerate null in any member; array items stay as documented.
        nullable = schema.nullable or (member and not self.strict)
        if nullable and out != {}:
            out = {"anyOf": [out, {"type": "null"}]}
        text = _describe(schema, relaxed=not self.strict)
        if text:
            out = (
                {**out, "description": text}
                if "$ref" not in out
                else {"allOf": [out], "description": text}
            )
        return out

    def shape(self, schema: Schema, owner: str) -> dict[str, Any]:
        """The JSON Schema of a `type` (not `ref`) schema, without null or description."""
        if schema.type == "any":
            return {}
        if schema.type == "array" and schema.items is not None:
            out: dict[str, Any] = {
                "type": "array",
                "items": self.node(schema.items, owner + "Item"),
            }
            if self.strict and schema.min_items is not None:
                out["minItems"] = schema.min_items
            if self.strict and schema.max_items is not None:
                out["maxItems"] = schema.max_items
            return out
        if schema.type == "object":
            if schema.properties:
                # Inline objects get a stable name instead of datamodel-codegen's Data1, Data2…
                self.defs[owner] = self.object(schema, owner)
                return {"$ref": f"#/definitions/{owner}"}
            values = (
                {} if schema.additional is None else self.node(schema.additional, owner + "Value")
            )
            return {"type": "object", "additionalProperties": values}
        scalar: dict[str, Any] = {"type": schema.type}
        if self.strict:
            if schema.enum is not None:
                scalar["enum"] = list(schema.enum)
            for ours, theirs in CONSTRAINTS.items():
                if getattr(schema, ours) is not None:
                    scalar[theirs] = getattr(schema, ours)
        return scalar

    def object(self, schema: Schema, name: str, base: str | None = None) -> dict[str, Any]:
        props = schema.properties
        out: dict[str, Any] = {
            "type": "object",
            "properties": {
                key: self.node(sub, name + camel(key), member=True) for key, sub in props.items()
            },
        }
        if self.strict:
            required = [key for key, sub in props.items() if sub.required]
            if required:
                out["required"] = required
        if schema.description:
            out["description"] = schema.description
        if base:
            out["customBasePath"] = base
        return out

    # -- endpoints -------------------------------------------------------------
    def request(self, ep: Endpoint) -> None:
        schema = Schema(
            type="object",
            description=f"Arguments of {ep.group}.{ep.name}: {ep.summary}",
            properties=dict(ep.params),
        )
        self.defs[ep.request_name] = self.object(schema, ep.request_name)

    def response(self, ep: Endpoint) -> None:
        schema = Schema(
            type="object",
            description=f"Response of {ep.group}.{ep.name}: {ep.summary}",
            properties=ep.response,
        )
        self.defs[ep.response_name] = self.object(
            schema, ep.response_name, base=ENVELOPE_BASES[ep.envelope]
        )


def build(platform: Platform, *, strict: bool, open_module: str) -> dict[str, Any]:
    projector = Projector(platform, strict=strict, open_module=open_module)
    for ep in platform.endpoints:
        if strict:
            projector.request(ep)
        else:
            projector.response(ep)
    if strict:
        # Every shared schema is importable from requests, so users can build nested values.
        for name in platform.schemas:
            projector.ref(name)
    else:
        for name, schema in platform.schemas.items():
            if not schema.open:
                projector.ref(name)
            else:
                # The open wrapper's members are typed by the closed Struct behind it.
                inner = msgspec.structs.replace(schema, open=False)
                projector.defs[name + "Fields"] = projector.object(inner, name + "Fields")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Models",
        "type": "object",
        "definitions": dict(sorted(projector.defs.items())),
    }
