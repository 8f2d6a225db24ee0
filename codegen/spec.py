"""Load and validate specs/: every mistake names its file and the place in it."""

from __future__ import annotations

import csv
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PLATFORMS = ("project", "open")
SCHEMA_TYPES = {"string", "integer", "number", "boolean", "array", "object", "any"}
SCHEMA_KEYS = {
    "type",
    "ref",
    "format",
    "description",
    "required",
    "nullable",
    "enum",
    "minimum",
    "maximum",
    "min_length",
    "max_length",
    "pattern",
    "min_items",
    "max_items",
    "items",
    "properties",
    "additional",
    "open",
    "variants_by",
    "default",
    "deprecated",
    "doc",
    "also_accepts",
}
# Where a member's facts come from when no doc page backs it: `vendor-sdk: Go <Struct>.<wire name>`
# (the struct as named in specs/vendor-sdk/fields.json), or `… Java …` for the Java SDK.
DOC_CITATION = re.compile(
    r"^(feishu-project/|open-platform/|vendor-sdk: (Go|Java) [A-Za-z0-9_]+\.[A-Za-z0-9_]+$)"
)
PARAM_KEYS = SCHEMA_KEYS | {"in"}
ENDPOINT_KEYS = {
    "summary",
    "doc",
    "method",
    "path",
    "writes",
    "rate_limit",
    "auth",
    "user_key",
    "envelope",
    "params",
    "response",
    "pagination",
    "errors",
    "notes",
    "multipart",
    "download",
    "vendor_differences",
}
REQUIRED_ENDPOINT_KEYS = {"summary", "doc", "method", "path", "writes"}
AUTH = {"project": {"plugin", "plugin_only", "none"}, "open": {"tenant", "none"}}
ENVELOPES = {"project": {"project", "authen"}, "open": {"open"}}
USER_KEY = {"required", "optional", "none"}
PAGINATION_KEYS = {
    "style",
    "page_param",
    "size_param",
    "items",
    "total",
    "max_page_size",
    "max_total",
    "cursor_param",
    "next_cursor",
    "has_more",
    "offset_param",
}
RESERVED_PARAMS = {"request_options", "self"}
VARIANTS_BY_KEYS = {"field", "variants", "restricts"}
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class SpecError(Exception):
    """A spec file is wrong; the message names the file and the place."""


@dataclass
class Param:
    name: str
    location: str
    schema: dict[str, Any]

    @property
    def required(self) -> bool:
        return bool(self.schema.get("required"))

    @property
    def py_name(self) -> str:
        return self.name + "_" if keyword.iskeyword(self.name) else self.name


@dataclass
class Endpoint:
    platform: str
    group: str
    name: str
    source: str
    summary: str
    doc: str
    method: str
    path: str
    writes: bool
    rate_limit: str
    auth: str
    user_key: str
    envelope: str
    params: list[Param]
    response: dict[str, dict[str, Any]]
    pagination: dict[str, Any] | None
    errors: list[int]
    notes: list[str]
    multipart: bool = False
    download: bool = False
    vendor_differences: list[dict[str, str]] = field(default_factory=list)

    @property
    def class_prefix(self) -> str:
        return camel(self.group) + camel(self.name)

    @property
    def request_name(self) -> str:
        return self.class_prefix + "Request"

    @property
    def response_name(self) -> str:
        return self.class_prefix + "Response"


@dataclass
class Platform:
    name: str
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema_sources: dict[str, str] = field(default_factory=dict)
    schema_differences: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass
class Specs:
    root: Path
    platforms: dict[str, Platform]
    rate_limits: dict[str, Any]
    errors: dict[str, list[dict[str, Any]]]
    endpoint_rows: list[dict[str, str]]

    def all_endpoints(self) -> list[Endpoint]:
        return [e for p in self.platforms.values() for e in p.endpoints]


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


def _fail(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def _load_yaml(path: Path, root: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(str(path.relative_to(root)), f"not valid YAML: {exc}") from None


def check_schema(schema: Any, where: str, *, allow_required: bool, known: set[str] | None) -> None:
    """Validate one schema node (recursively). `known` holds the platform's schema names."""
    if not isinstance(schema, dict):
        raise _fail(where, f"a schema must be a mapping, got {type(schema).__name__}")
    extra = set(schema) - SCHEMA_KEYS
    if extra:
        raise _fail(where, f"unknown key(s) {sorted(extra)}; allowed: {sorted(SCHEMA_KEYS)}")
    if "required" in schema and not allow_required:
        raise _fail(where, "`required` only applies to an object member or a parameter")
    if "required" in schema and not isinstance(schema["required"], bool):
        raise _fail(where + ".required", "must be true or false")
    if "doc" in schema and not DOC_CITATION.match(str(schema["doc"])):
        raise _fail(
            where + ".doc", "cite a page (feishu-project/…) or `vendor-sdk: Go <Struct>.<field>`"
        )
    for i, alt in enumerate(schema.get("also_accepts") or []):
        check_schema(alt, f"{where}.also_accepts[{i}]", allow_required=False, known=known)
    if "also_accepts" in schema and not isinstance(schema["also_accepts"], list):
        raise _fail(where + ".also_accepts", "must be a list of schemas")
    has_ref, has_type = "ref" in schema, "type" in schema
    if has_ref == has_type:
        raise _fail(where, "needs exactly one of `type` or `ref`")
    if has_ref:
        if known is not None and schema["ref"] not in known:
            raise _fail(where + ".ref", f"dangling reference {schema['ref']!r}")
        return
    kind = schema["type"]
    if kind not in SCHEMA_TYPES:
        raise _fail(where + ".type", f"{kind!r} is not one of {sorted(SCHEMA_TYPES)}")
    if kind == "array":
        if "items" not in schema:
            raise _fail(where, "an array needs `items`")
        check_schema(schema["items"], where + ".items", allow_required=False, known=known)
    elif "items" in schema:
        raise _fail(where + ".items", "only arrays have `items`")
    if kind == "object":
        props = schema.get("properties", {})
        if not isinstance(props, dict):
            raise _fail(where + ".properties", "must be a mapping")
        for name, sub in props.items():
            check_schema(sub, f"{where}.properties.{name}", allow_required=True, known=known)
        _check_restricts(schema, where)
        if "additional" in schema:
            check_schema(
                schema["additional"], where + ".additional", allow_required=False, known=known
            )
    else:
        for key in ("properties", "additional", "open"):
            if key in schema:
                raise _fail(where + "." + key, "only objects have this key")
    if schema.get("open") and "type" not in schema.get("properties", {}):
        raise _fail(where + ".open", "an open object needs a `type` member (its discriminator)")
    numeric = {"minimum", "maximum"} & set(schema)
    if numeric and kind not in {"integer", "number"}:
        raise _fail(where, f"{sorted(numeric)} only apply to numbers")
    if {"min_length", "max_length", "pattern"} & set(schema) and kind != "string":
        raise _fail(where, "min_length / max_length / pattern only apply to strings")
    if {"min_items", "max_items"} & set(schema) and kind != "array":
        raise _fail(where, "min_items / max_items only apply to arrays")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except re.error as exc:
            raise _fail(where + ".pattern", f"not a regular expression: {exc}") from None
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise _fail(where + ".enum", "must be a non-empty list")
        py = {"string": str, "integer": int, "number": (int, float)}.get(kind)
        if py is None or not all(isinstance(v, py) and not isinstance(v, bool) for v in values):
            raise _fail(where + ".enum", f"values must all be of type {kind}")
    if "variants_by" in schema:
        if kind != "any":
            raise _fail(where + ".variants_by", "only an `any` member can have variants")
        vb = schema["variants_by"]
        if not isinstance(vb, dict) or not {"field", "variants"} <= set(vb) <= VARIANTS_BY_KEYS:
            raise _fail(
                where + ".variants_by", "needs `field` and `variants`, optionally `restricts`"
            )
        for value, sub in vb["variants"].items():
            check_schema(
                sub, f"{where}.variants_by.variants.{value}", allow_required=False, known=known
            )


def _check_restricts(schema: dict[str, Any], where: str) -> None:
    """`restricts` names a sibling enum and, per variant, the values it may take there."""
    for key, sub in schema.get("properties", {}).items():
        restricts = (sub.get("variants_by") or {}).get("restricts")
        if restricts is None:
            continue
        here = f"{where}.properties.{key}.variants_by.restricts"
        if not isinstance(restricts, dict) or set(restricts) != {"member", "values"}:
            raise _fail(here, "needs exactly `member` and `values`")
        sibling = schema["properties"].get(restricts["member"])
        if sibling is None or "enum" not in sibling:
            raise _fail(here + ".member", f"{restricts['member']!r} is not a sibling enum member")
        for value, allowed in restricts["values"].items():
            if value not in sub["variants_by"]["variants"]:
                raise _fail(f"{here}.values.{value}", "is not one of the variants")
            if not isinstance(allowed, list) or not set(allowed) <= set(sibling["enum"]):
                raise _fail(
                    f"{here}.values.{value}", f"must be a list drawn from {sibling['enum']}"
                )


def check_differences(entries: Any, where: str) -> list[dict[str, str]]:
    """`vendor_differences`: [{field: dotted wire path, reason: why we differ from the SDK}]."""
    if not isinstance(entries, list):
        raise _fail(where, "must be a list of {field, reason}")
    for i, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or set(entry) != {"field", "reason"}
            or not all(isinstance(entry[k], str) and entry[k].strip() for k in entry)
        ):
            raise _fail(f"{where}[{i}]", "needs exactly a non-empty `field` and `reason`")
    return entries


def _check_endpoint(
    ep: dict[str, Any],
    where: str,
    platform: str,
    rate_limits: dict[str, Any],
    known: set[str],
    codes: set[int],
) -> None:
    if not isinstance(ep, dict):
        raise _fail(where, "an endpoint must be a mapping")
    extra = set(ep) - ENDPOINT_KEYS
    if extra:
        raise _fail(where, f"unknown key(s) {sorted(extra)}; allowed: {sorted(ENDPOINT_KEYS)}")
    missing = REQUIRED_ENDPOINT_KEYS - set(ep)
    if missing:
        raise _fail(where, f"missing key(s) {sorted(missing)}")
    if ep["method"] not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
        raise _fail(where + ".method", f"{ep['method']!r} is not an HTTP method")
    if not isinstance(ep["writes"], bool):
        raise _fail(where + ".writes", "must be true or false")
    if ep.get("rate_limit", "default") not in rate_limits:
        raise _fail(
            where + ".rate_limit", f"unknown class {ep['rate_limit']!r}; see rate_limits.yaml"
        )
    default_auth = "plugin" if platform == "project" else "tenant"
    if ep.get("auth", default_auth) not in AUTH[platform]:
        raise _fail(where + ".auth", f"must be one of {sorted(AUTH[platform])}")
    if ep.get("user_key", "required") not in USER_KEY:
        raise _fail(where + ".user_key", f"must be one of {sorted(USER_KEY)}")
    if "envelope" in ep and ep["envelope"] not in ENVELOPES[platform]:
        raise _fail(where + ".envelope", f"must be one of {sorted(ENVELOPES[platform])}")
    path_names = re.findall(r":([a-z_]+)", ep["path"])
    params = ep.get("params") or {}
    if not isinstance(params, dict):
        raise _fail(where + ".params", "must be a mapping of name → parameter")
    for name, p in params.items():
        pw = f"{where}.params.{name}"
        if not isinstance(p, dict):
            raise _fail(pw, "a parameter must be a mapping")
        if p.get("in") not in {"path", "query", "body"}:
            raise _fail(pw + ".in", "must be path, query or body")
        if name in RESERVED_PARAMS:
            raise _fail(pw, f"{name!r} clashes with a reserved argument of the generated method")
        if not IDENT.match(name):
            raise _fail(pw, "parameter names must be snake_case identifiers")
        check_schema(
            {k: v for k, v in p.items() if k != "in"}, pw, allow_required=True, known=known
        )
        if p["in"] == "path" and not p.get("required"):
            raise _fail(pw, "path parameters are always required")
    declared = [n for n, p in params.items() if p.get("in") == "path"]
    if sorted(declared) != sorted(path_names):
        raise _fail(
            where + ".params",
            f"path parameters {sorted(declared)} differ from the path's {sorted(path_names)}",
        )
    response = ep.get("response") or {}
    if not isinstance(response, dict):
        raise _fail(where + ".response", "must be a mapping of envelope member → schema")
    for name, sub in response.items():
        check_schema(sub, f"{where}.response.{name}", allow_required=False, known=known)
    pag = ep.get("pagination")
    if pag is not None:
        extra = set(pag) - PAGINATION_KEYS
        if extra:
            raise _fail(where + ".pagination", f"unknown key(s) {sorted(extra)}")
        style = pag.get("style")
        if style == "page":
            need = {"page_param", "size_param", "items"}
        elif style == "cursor":
            need = {"cursor_param", "next_cursor", "items"}
        elif style == "offset":
            need = {"offset_param", "size_param", "items"}
        else:
            raise _fail(where + ".pagination.style", "must be page, cursor or offset")
        if need - set(pag):
            raise _fail(where + ".pagination", f"style {style} needs {sorted(need - set(pag))}")
        for key in ("page_param", "size_param", "cursor_param", "offset_param"):
            if key in pag and pag[key] not in params:
                raise _fail(f"{where}.pagination.{key}", f"{pag[key]!r} is not a parameter")
        if pag["items"].split(".")[0] not in response:
            raise _fail(where + ".pagination.items", f"{pag['items']!r} is not in the response")
    for code in ep.get("errors") or []:
        if code not in codes:
            raise _fail(where + ".errors", f"code {code} is missing from errors.yaml")
    diffs = check_differences(ep.get("vendor_differences", []), where + ".vendor_differences")
    for i, entry in enumerate(diffs):
        if not entry["field"].startswith(("request.", "response.")):
            raise _fail(f"{where}.vendor_differences[{i}]", "`field` starts request. or response.")


def load(root: Path) -> Specs:
    root = Path(root)
    rel = lambda p: str(p.relative_to(root))  # noqa: E731
    rate_limits = (_load_yaml(root / "rate_limits.yaml", root) or {}).get("classes", {})
    for name, cls in rate_limits.items():
        windows = cls.get("windows") if isinstance(cls, dict) else None
        if not windows or not all(
            isinstance(w, dict)
            and isinstance(w.get("limit"), int)
            and w["limit"] > 0
            and isinstance(w.get("period"), (int, float))
            and w["period"] > 0
            for w in windows
        ):
            raise _fail(
                f"rate_limits.yaml: classes.{name}",
                "needs windows: [{limit: int > 0, period: seconds > 0}]",
            )
    errors_doc = _load_yaml(root / "errors.yaml", root) if (root / "errors.yaml").exists() else {}
    errors: dict[str, list[dict[str, Any]]] = {
        p: list((errors_doc or {}).get(p) or []) for p in PLATFORMS
    }
    for plat, entries in errors.items():
        seen: set[int] = set()
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("code"), int):
                raise _fail(f"errors.yaml: {plat}[{i}]", "needs an integer `code`")
            if entry["code"] in seen:
                raise _fail(f"errors.yaml: {plat}[{i}]", f"duplicate code {entry['code']}")
            seen.add(entry["code"])
    with (root / "endpoints.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))

    platforms: dict[str, Platform] = {}
    for plat in PLATFORMS:
        platform = Platform(plat)
        platforms[plat] = platform
        for path in sorted((root / plat / "schemas").glob("*.yaml")):
            doc = _load_yaml(path, root) or {}
            if set(doc) - {"schemas"}:
                raise _fail(rel(path), f"unknown top-level key(s) {sorted(set(doc) - {'schemas'})}")
            for name, schema in (doc.get("schemas") or {}).items():
                if name in platform.schemas:
                    raise _fail(
                        rel(path),
                        f"schema {name!r} is already defined in {platform.schema_sources[name]}",
                    )
                if not re.match(r"^[A-Z][A-Za-z0-9]*$", name):
                    raise _fail(f"{rel(path)}: {name}", "schema names are CamelCase")
                if isinstance(schema, dict) and "vendor_differences" in schema:
                    schema = dict(schema)
                    platform.schema_differences[name] = check_differences(
                        schema.pop("vendor_differences"),
                        f"{rel(path)}: schemas.{name}.vendor_differences",
                    )
                platform.schemas[name] = schema
                platform.schema_sources[name] = rel(path)
        known = set(platform.schemas)
        for name, schema in platform.schemas.items():
            where = f"{platform.schema_sources[name]}: schemas.{name}"
            check_schema(schema, where, allow_required=False, known=known)
            if schema.get("type") != "object":
                raise _fail(where, "shared schemas are objects")
        codes = {e["code"] for e in errors[plat]}
        for path in sorted((root / plat).glob("*.yaml")):
            doc = _load_yaml(path, root) or {}
            extra = set(doc) - {"platform", "group", "endpoints"}
            if extra:
                raise _fail(rel(path), f"unknown top-level key(s) {sorted(extra)}")
            if doc.get("platform") != plat:
                raise _fail(rel(path), f"`platform` must be {plat!r}")
            group = doc.get("group")
            if not isinstance(group, str) or not IDENT.match(group):
                raise _fail(rel(path), "`group` must be a snake_case identifier")
            for name, ep in (doc.get("endpoints") or {}).items():
                where = f"{rel(path)}: endpoints.{name}"
                if not IDENT.match(name):
                    raise _fail(where, "endpoint names must be snake_case identifiers")
                _check_endpoint(ep, where, plat, rate_limits, known, codes)
                params = [
                    Param(n, p["in"], {k: v for k, v in p.items() if k != "in"})
                    for n, p in (ep.get("params") or {}).items()
                ]
                platform.endpoints.append(
                    Endpoint(
                        platform=plat,
                        group=group,
                        name=name,
                        source=rel(path),
                        summary=ep["summary"],
                        doc=ep["doc"],
                        method=ep["method"],
                        path=ep["path"],
                        writes=ep["writes"],
                        rate_limit=ep.get("rate_limit", "default"),
                        auth=ep.get("auth", "plugin" if plat == "project" else "tenant"),
                        user_key=ep.get("user_key", "required") if plat == "project" else "none",
                        envelope=ep.get("envelope", "project" if plat == "project" else "open"),
                        params=params,
                        response=ep.get("response") or {},
                        pagination=ep.get("pagination"),
                        errors=list(ep.get("errors") or []),
                        notes=list(ep.get("notes") or []),
                        multipart=bool(ep.get("multipart", False)),
                        download=bool(ep.get("download", False)),
                        vendor_differences=list(ep.get("vendor_differences") or []),
                    )
                )
        names = [(e.group, e.name) for e in platform.endpoints]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise _fail(plat, f"duplicate endpoint names {sorted(dupes)}")
        classes = {e.request_name for e in platform.endpoints} | {
            e.response_name for e in platform.endpoints
        }
        clash = classes & known
        if clash:
            raise _fail(
                plat, f"schema names clash with generated request/response names: {sorted(clash)}"
            )
    listed = {(r["platform"], r["method"], r["path"]) for r in rows}
    specced = {(p, e.method, e.path) for p, pl in platforms.items() for e in pl.endpoints}
    if listed != specced:
        missing = sorted(listed - specced)
        extra = sorted(specced - listed)
        raise _fail(
            "endpoints.tsv",
            f"specs and the endpoint list differ: missing {missing}, not listed {extra}",
        )
    return Specs(
        root=root, platforms=platforms, rate_limits=rate_limits, errors=errors, endpoint_rows=rows
    )
