"""`python -m codegen.vendor_examples`: an example call for each endpoint only the vendor SDKs know.

No doc page shows these endpoints, so their examples are built from the vendor's own type
trees (specs/vendor-sdk/fields.json): every member the SDK declares, at every level, with a
sample value of its Go type. Where our spec constrains a member (an enum, a minimum) the
sample satisfies it, so the request passes our validation; the members themselves come from
the vendor, never from our spec — tests decode them with our models to prove nothing is lost.
The Java-only endpoint (config.list_field_options) has no type tree; its example is written by
hand from the Java SDK's classes and left alone here. The examples are the request and decode fixtures of tests/test_vendor_endpoints.py and the
sandbox's answers for these endpoints (via codegen/doc_responses.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .language import Schema
from .spec import Endpoint, Platform, load

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT / "specs" / "vendor-sdk"
OUT = FACTS / "examples"
ENVELOPE = {"err_code": 0, "err_msg": "", "err": {}}
SAMPLE_TEXT = {"field_type_key": "text", "work_item_type_key": "story", "project_key": "sandbox"}


class Sampler:
    """Sample values for a vendor type tree, kept inside our spec's constraints where it has any."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def ours(self, schema: Schema | None) -> Schema | None:
        while schema is not None and schema.ref is not None:
            schema = self.platform.schemas.get(schema.ref)
        return schema

    def value(self, tree: dict[str, Any], ours: Schema | None, name: str) -> Any:
        ours = self.ours(ours)
        if ours is not None and ours.enum:
            return ours.enum[0]
        kind = tree["kind"]
        if kind == "list":
            inner = ours.items if ours is not None and ours.type == "array" else None
            return [self.value(tree["items"], inner, name)]
        if kind == "dict":
            inner = ours.additional if ours is not None else None
            key = "1" if tree.get("key", "string").startswith("int") else "key"
            return {key: self.value(tree["values"], inner, name)}
        if kind == "object":
            return self.members(tree, ours)
        return self.scalar(kind, ours, name)

    def members(self, tree: dict[str, Any], ours: Schema | None) -> dict[str, Any]:
        props = (ours.properties if ours is not None else None) or {}
        built = {
            key: self.value(sub, props.get(key), key)
            for key, sub in (tree.get("fields") or {}).items()
            if not sub.get("recursive")  # one level of a self-referencing struct is enough
        }
        for key, prop in props.items():  # members our spec requires that the SDK's struct lacks
            if prop.required and key not in built:
                built[key] = self.ours_only(prop, key)
        return built

    def ours_only(self, schema: Schema, name: str) -> Any:
        """A sample of a member only our spec declares (the page requires it)."""
        resolved = self.ours(schema)
        if resolved is None or resolved.type in (None, "object"):
            return {}
        kind = {"integer": "int", "number": "float", "boolean": "bool", "array": "list"}.get(
            resolved.type, "str"
        )
        return [] if kind == "list" else self.scalar(kind, resolved, name)

    @staticmethod
    def scalar(kind: str, ours: Schema | None, name: str) -> Any:
        if kind == "int":
            if name.endswith(("_at", "_time", "_date")):
                return 1767225600000
            minimum = ours.minimum if ours is not None and ours.minimum is not None else 1
            return max(1, int(minimum))
        if kind == "float":
            return 1.5
        if kind == "bool":
            return True
        if kind == "str":
            return SAMPLE_TEXT.get(name, f"{name}_1")
        return "value_1"  # interface{}: the sample of a text field value


def _example(endpoint: Endpoint, facts: dict[str, Any], sampler: Sampler) -> dict[str, Any]:
    params: dict[str, Schema] = dict(endpoint.params)
    request = {
        name: sampler.value(member["type"], params.get(name), name)
        for name, member in facts["request"].items()
    }
    response = {
        name: sampler.value(tree, endpoint.response.get(name), name)
        for name, tree in facts["response"].items()
    }
    if endpoint.pagination and endpoint.pagination.style == "search_after":
        _last_page(response, [path for _, path in endpoint.pagination.carry])
    return {
        "endpoint": f"{endpoint.method} {endpoint.path}",
        "vendor": endpoint.doc.removeprefix("vendor-sdk: ").removesuffix(" (no page)"),
        "request": request,
        "response": {**ENVELOPE, **response},
    }


def _last_page(response: dict[str, Any], cursor_paths: Any) -> None:
    # A served example must end the iteration: the last page carries no cursor.
    for dotted in cursor_paths:
        *parents, leaf = dotted.split(".")
        node = response
        for part in parents:
            node = node.get(part) or {}
        if leaf in node:
            node[leaf] = ""


def build(root: Path = ROOT / "specs") -> dict[str, dict[str, Any]]:
    """``"group.name"`` → example, for every endpoint whose facts hold a type tree."""
    specs = load(root)
    trees = json.loads((FACTS / "fields.json").read_text(encoding="utf-8"))["endpoints"]
    platform = specs.platforms["project"]
    sampler = Sampler(platform)
    return {
        f"{ep.group}.{ep.name}": _example(ep, trees[f"{ep.method} {ep.path}"], sampler)
        for ep in platform.endpoints
        if ep.doc_source == "vendor SDK" and f"{ep.method} {ep.path}" in trees
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    examples = build()
    for key, example in examples.items():
        text = json.dumps(example, ensure_ascii=False, indent=1) + "\n"
        (OUT / f"{key}.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(examples)} examples to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
