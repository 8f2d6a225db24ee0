"""Each endpoint's success response example from its doc page (specs/examples), for the sandbox.

The sandbox answers endpoints it does not model with the page's own example, so the
examples are picked here, once, by the same rules the doc-example tests use: the page's
only endpoint, or the endpoint whose path is the example's label. Endpoints with no page
(only the vendor SDKs know them) answer with the example built from the SDK's types.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .render import render
from .spec import Platform, Specs

# Success examples the docs got wrong (tests/test_doc_examples.py records the same ones).
SKIP = {
    "46-配置-2#1": "contradicts itself on Business.role_owners (list here, map on page 06)",
}


def _is_success(platform: str, body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    if platform == "open":
        return body.get("code") == 0
    err = body.get("err")
    inner = err.get("code") if isinstance(err, dict) else None
    return body.get("err_code", 0) == 0 and inner in (None, 0) and "err_code" in body


def pick(specs: Specs, platform: Platform) -> dict[str, Any]:
    """``"group.name"`` → the first success response example of the endpoint's page."""
    by_page: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((specs.root / "examples").glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for example in data["examples"]:
            example["id"] = f"{Path(data['page']).stem}#{example['index']}"
            by_page.setdefault(data["page"], []).append(example)
    page_endpoints: dict[str, list[Any]] = {}
    for ep in specs.all_endpoints():
        page_endpoints.setdefault(ep.doc, []).append(ep)
    picked: dict[str, Any] = {}
    vendor = specs.root / "vendor-sdk" / "examples"
    for ep in sorted(platform.endpoints, key=lambda e: (e.group, e.name)):
        built = vendor / f"{ep.group}.{ep.name}.json"
        if ep.doc_source == "vendor SDK" and built.exists():
            # no page: the example built from the vendor SDK's types (codegen/vendor_examples.py)
            picked[f"{ep.group}.{ep.name}"] = json.loads(built.read_text(encoding="utf-8"))[
                "response"
            ]
            continue
        for example in by_page.get(ep.doc, []):
            if example["kind"] != "response" or example["id"] in SKIP:
                continue
            alone = len(page_endpoints[ep.doc]) == 1
            if not alone and (example.get("label") or "").strip() != ep.path:
                continue
            if _is_success(platform.name, example["json"]):
                picked[f"{ep.group}.{ep.name}"] = example["json"]
                break
    return picked


def module(specs: Specs, platform: Platform) -> str:
    picked = pick(specs, platform)
    return render(
        "doc_responses.py.jinja",
        responses=[(key, _literal(body)) for key, body in picked.items()],
    )


def _literal(value: Any) -> str:
    # JSON → a Python literal (true/false/null spelled the Python way), deterministic.
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)
