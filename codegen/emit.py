"""The generated package modules: each from its template, given a context built here."""

from __future__ import annotations

import json
import keyword
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import doc_responses, projection
from .language import PLATFORMS, Schema
from .pytypes import (
    REQUEST,
    RESPONSE,
    RESPONSE_IN_BLOCKS,
    python_type,
    resolve_items,
    response_item_type,
)
from .render import header, render, replace_region
from .spec import Endpoint, Platform, Specs, camel, py_name

DMCG_ARGS = [
    "--input-file-type",
    "jsonschema",
    "--output-model-type",
    "msgspec.Struct",
    "--disable-timestamp",
    "--keyword-only",
    "--use-annotated",
    "--field-constraints",
    "--snake-case-field",
    "--use-standard-collections",
    "--use-union-operator",
    "--target-python-version",
    "3.11",
    "--enum-field-as-literal",
    "all",
    "--use-schema-description",
    "--formatters",
    "black",
    "isort",
]
# datamodel-code-generator's class for the root of the schema document; it carries nothing.
ROOT_PLACEHOLDER = re.compile(r"\n\nclass Models\((\w+), kw_only=True\):\n    pass\n")


def snake(name: str) -> str:
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return out + "_" if keyword.iskeyword(out) else out


def datamodel(schema: dict[str, Any], base: str, tool_header: str) -> str:
    """Models from a JSON Schema document, by datamodel-code-generator."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "schema.json"
        out = Path(tmp) / "models.py"
        src.write_text(json.dumps(schema, ensure_ascii=False, indent=1), encoding="utf-8")
        cmd = [
            *(sys.executable, "-m", "datamodel_code_generator"),
            *("--input", str(src), "--output", str(out), "--base-class", base),
            *("--custom-file-header", tool_header, *DMCG_ARGS),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"datamodel-codegen failed:\n{proc.stderr}")
        text = out.read_text(encoding="utf-8")
    text, found = ROOT_PLACEHOLDER.subn("\n", text)
    if found != 1:  # a new datamodel-code-generator version spells it differently
        raise SystemExit("datamodel-codegen output changed: no root placeholder class to drop")
    return text


# -- api.py ------------------------------------------------------------------------------


def _doc_lines(ep: Endpoint) -> list[str]:
    lines = [ep.summary, "", f"``{ep.method} {ep.path}``"]
    if ep.writes and ep.platform == "project":
        lines.append("Writes: sends ``X-IDEM-UUID`` (one key per call, reused on retries).")
    elif ep.writes:
        lines.append("Writes: not retried after an ambiguous failure (no idempotency header here).")
    if ep.pagination:
        lines.append("Await for one page, or ``async for`` over every item across pages.")
    if ep.download:
        lines.append("Returns a :class:`~aiofeishu.Download` that streams the file.")
    described = [(name, p) for name, p in ep.params.items() if p.description]
    if described:
        lines += ["", "Args:"]
        for name, p in described:
            lines.append(f"    {py_name(name)}: {' '.join(str(p.description).split())}")
    return [*lines, "", f"Doc: {ep.doc}"]


def _method(ep: Endpoint, platform: Platform) -> dict[str, Any]:
    """How one endpoint's method reads: its arguments, return type and call."""
    required = [(n, p) for n, p in ep.params.items() if p.required]
    optional = [(n, p) for n, p in ep.params.items() if not p.required]
    args = [
        f"{py_name(n)}: {python_type(p, ep.request_name + camel(n), platform, REQUEST)}"
        for n, p in required
    ] + [
        f"{py_name(n)}: {python_type(p, ep.request_name + camel(n), platform, REQUEST)}"
        " | UnsetType = UNSET"
        for n, p in optional
    ]
    wire = "{" + ", ".join(f"{n!r}: {py_name(n)}" for n in ep.params) + "}"
    if ep.pagination:
        schema, owner = resolve_items(
            ep.response,
            ep.pagination.items,
            ep.response_name,
            platform,
            single_ok=ep.pagination.style == "search_after",
        )
        item = response_item_type(schema, owner, platform)
        returns, call = f"Paginated[m.{ep.response_name}, {item}]", "self._paginate"
    elif ep.download:
        returns, call = "Download", "self._download"
    else:
        returns, call = f"m.{ep.response_name}", "await self._call"
    result = f"{call}(ep.{ep.const}, {wire}, request_options)"
    return {
        "name": ep.name,
        "sync": bool(ep.pagination or ep.download),
        "args": args,
        "returns": returns,
        "doc": _doc_lines(ep),
        # An annotated local instead of typing.cast (a Python call on every call): the
        # pipeline returns Any, which mypy lets a declared local take.
        "body": [f"return {result}"]
        if ep.download
        else [f"return cast({returns!r}, {result})"]
        if ep.pagination
        else [f"result: {returns} = {result}", "return result"],
    }


def api_module(platform: Platform) -> str:
    groups: dict[str, list[Endpoint]] = {}
    for ep in platform.endpoints:
        groups.setdefault(ep.group, []).append(ep)
    return render(
        "api.py.jinja",
        title=PLATFORMS[platform.name].title,
        platform=platform.name,
        mixin=camel(platform.name) + "Groups",
        groups=[
            {
                "name": name,
                "cls": camel(name) + "API",
                "methods": [_method(ep, platform) for ep in groups[name]],
                # a group may span several spec files (comments.yaml, comments_vendor.yaml)
                "files": " and ".join(dict.fromkeys(f"specs/{ep.source}" for ep in groups[name])),
            }
            for name in sorted(groups)
        ],
    )


# -- the other modules -------------------------------------------------------------------


def rate_class(specs: Specs, name: str) -> tuple[tuple[tuple[int, float], ...], int | None]:
    """A rate class's (windows, concurrency) as the runtime takes them."""
    cls = specs.rate_limits[name]
    return tuple((w.limit, float(w.period)) for w in cls.windows), cls.concurrency


def rate_classes_module(specs: Specs) -> str:
    classes = [(name, rate_class(specs, name)) for name in sorted(specs.rate_limits)]
    return render("rate_classes.py.jinja", classes=classes)


def endpoints_module(platform: Platform, specs: Specs) -> str:
    entries = [
        {
            "ep": ep,
            "windows": rate_class(specs, ep.rate_limit)[0],
            "concurrency": rate_class(specs, ep.rate_limit)[1],
            "params": {
                where: tuple(n for n, p in ep.params.items() if p.in_ == where)
                for where in ("path", "query", "body")
            },
            "files": tuple(n for n, p in ep.params.items() if p.format == "binary"),
            "errors": tuple(ep.errors),
        }
        for ep in platform.endpoints
    ]
    return render(
        "endpoints.py.jinja",
        title=PLATFORMS[platform.name].title,
        entries=entries,
    )


def blocks_module(platform: Platform) -> str:
    blocks = [
        {
            "name": name,
            "description": schema.description or name,
            "fields_name": name + "Fields",
            "known_types": sorted(map(str, schema.properties["type"].enum or [])),
            "members": [
                {
                    "attr": snake(key),
                    "type": python_type(
                        sub, name + "Fields" + camel(key), platform, RESPONSE_IN_BLOCKS
                    ).removesuffix(" | None"),
                }
                for key, sub in schema.properties.items()
                if key != "type"
            ],
        }
        for name, schema in platform.schemas.items()
        if schema.open
    ]
    return render("blocks.py.jinja", platform=platform.name, blocks=blocks)


def _variant_view(owner: str, member: str, schema: Schema, platform: Platform) -> dict[str, Any]:
    by = schema.variants_by
    assert by is not None
    view: dict[str, Any] = {
        "owner": owner,
        "member": snake(member),
        "field": snake(by.field),
        "table": f"{snake(owner).upper()}_{snake(member).upper()}",
        "variants": [(v, python_type(s, "", platform, RESPONSE)) for v, s in by.variants.items()],
        "restricts": None,
    }
    if by.restricts is not None:
        restricted = snake(by.restricts.member).upper()
        view["restricts_table"] = (
            f"{snake(owner).upper()}_{restricted}_BY_{snake(by.field).upper()}"
        )
        view["restricts"] = [(v, sorted(a)) for v, a in by.restricts.values.items()]
    return view


def variants_module(platform: Platform) -> str:
    views = [
        _variant_view(name, key, sub, platform)
        for name, schema in sorted(platform.schemas.items())
        for key, sub in schema.properties.items()
        if sub.variants_by
    ]
    return render("variants.py.jinja", platform=platform.name, views=views)


def error_codes_module(specs: Specs) -> str:
    platforms = [
        (
            plat,
            [
                (
                    entry.code,
                    (
                        entry.status,
                        entry.kind,
                        tuple(dict.fromkeys(entry.messages)),
                        tuple(dict.fromkeys(" ".join(h.text.split()) for h in entry.hints)),
                    ),
                )
                for entry in sorted(specs.errors[plat], key=lambda e: e.code)
            ],
        )
        for plat in PLATFORMS
    ]
    token_rejections = [
        (plat, tuple(sorted(e.code for e in specs.errors[plat] if e.renews_token)))
        for plat in PLATFORMS
    ]
    return render("error_codes.py.jinja", platforms=platforms, token_rejections=token_rejections)


def init_module(platform: Platform) -> str:
    return render("init.py.jinja", title=PLATFORMS[platform.name].title)


def _models(platform: Platform, *, strict: bool) -> str:
    side = "Request" if strict else "Response"
    nature = "strict" if strict else "forward compatible"
    tool = header("projection.py + datamodel-code-generator").rstrip("\n")
    document = projection.build(
        platform, strict=strict, open_module=f"aiofeishu.{platform.name}.blocks"
    )
    return datamodel(
        document,
        f"aiofeishu._base.{side}Model",
        tool + f'\n"""{side}-side Structs of the {PLATFORMS[platform.name].title} ({nature})."""',
    )


def generate(specs: Specs, out_root: Path) -> dict[Path, str]:
    """Every generated module (before formatting), by its path under `out_root`."""
    files: dict[Path, str] = {}
    for plat, platform in specs.platforms.items():
        pkg = out_root / plat
        files[pkg / "__init__.py"] = init_module(platform)
        files[pkg / "requests.py"] = _models(platform, strict=True)
        files[pkg / "models.py"] = _models(platform, strict=False)
        files[pkg / "blocks.py"] = blocks_module(platform)
        files[pkg / "variants.py"] = variants_module(platform)
        files[pkg / "endpoints.py"] = endpoints_module(platform, specs)
        files[pkg / "api.py"] = api_module(platform)
        files[pkg / "doc_responses.py"] = doc_responses.module(specs, platform)
    files[out_root / "error_codes.py"] = error_codes_module(specs)
    files[out_root / "rate_classes.py"] = rate_classes_module(specs)
    return files


def readme_with_endpoints(readme: str, specs: Specs) -> str:
    """README.md with its endpoint table (between the endpoints markers) regenerated."""
    start, end = "<!-- endpoints:start -->", "<!-- endpoints:end -->"
    table = render(
        "readme_endpoints.md.jinja",
        start=start,
        end=end,
        count=len(specs.all_endpoints()),
        clients=[
            (PLATFORMS[plat].client, sorted(platform.endpoints, key=lambda e: (e.group, e.name)))
            for plat, platform in specs.platforms.items()
        ],
    )
    return replace_region(readme, start, end, table)
