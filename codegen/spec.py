"""Load specs/ into the language's Structs and check what types cannot express.

Types (language.py) refuse unknown keys and wrong values; here: references resolve,
constraints fit their schema's type, path parameters match the path, pagination names
real parameters, codes exist in errors.yaml, names do not clash, and the specs cover
exactly the endpoint list.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec

from aiofeishu._endpoint import PageSpec

from .decoding import SpecError, fail, load_tsv, load_yaml
from .language import (
    PAGINATION_MEANINGS,
    PAGINATION_STYLES,
    PLATFORMS,
    EndpointFile,
    EndpointRow,
    EndpointSpec,
    ErrorEntry,
    ErrorsFile,
    Param,
    RateClass,
    RateLimitsFile,
    Schema,
    SchemaFile,
    VendorDifference,
    applies_to,
)

__all__ = ["Endpoint", "Platform", "SpecError", "Specs", "camel", "load", "py_name"]
RESERVED_PARAMS = {"request_options", "self"}
# Where a member's facts come from when no doc page backs it: `vendor-sdk: Go <Struct>.<wire
# name>` (the struct as named in specs/vendor-sdk/fields.json), or `… Java …` for the Java SDK.
DOC_CITATION = re.compile(
    r"^([\w.-]+/\S+\.md\b|vendor-sdk: (Go|Java) [A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$)"
)
# An endpoint with no doc page names the vendor SDK method in `doc` (endpoints.tsv `source`).
DOC_PAGE, VENDOR_SDK, VENDOR_SDK_DOC = "doc page", "vendor SDK", "vendor-sdk:"


class Endpoint(EndpointSpec, kw_only=True):
    """An endpoint where it stands (platform, file, group, name), platform defaults applied."""

    platform: str
    group: str
    name: str
    source: str
    auth: str
    user_key: Literal["required", "optional", "none"]
    envelope: str
    pagination: PageSpec | None = None

    @property
    def class_prefix(self) -> str:
        return camel(self.group) + camel(self.name)

    @property
    def request_name(self) -> str:
        return self.class_prefix + "Request"

    @property
    def response_name(self) -> str:
        return self.class_prefix + "Response"

    @property
    def const(self) -> str:
        """The registry constant: endpoints.WORK_ITEMS_FILTER."""
        return f"{self.group}_{self.name}".upper()

    @property
    def doc_source(self) -> str:
        """Where the facts come from: a doc page, or (``doc: vendor-sdk: …``) the vendor SDKs."""
        return VENDOR_SDK if self.doc.startswith(VENDOR_SDK_DOC) else DOC_PAGE


@dataclass
class Platform:
    name: str
    schemas: dict[str, Schema] = field(default_factory=dict)
    schema_sources: dict[str, str] = field(default_factory=dict)
    schema_differences: dict[str, list[VendorDifference]] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass
class Specs:
    root: Path
    platforms: dict[str, Platform]
    rate_limits: dict[str, RateClass]
    errors: dict[str, list[ErrorEntry]]
    endpoint_rows: list[EndpointRow]

    def all_endpoints(self) -> list[Endpoint]:
        return [e for p in self.platforms.values() for e in p.endpoints]


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


def py_name(wire_name: str) -> str:
    """A parameter's Python name: keywords get a trailing underscore."""
    return wire_name + "_" if keyword.iskeyword(wire_name) else wire_name


# -- schemas -----------------------------------------------------------------------------


def check_schema(schema: Schema, where: str, *, allow_required: bool, known: set[str]) -> None:
    """What a schema's types cannot say, recursively. `known`: the platform's schema names."""
    if schema.required and not allow_required:
        raise fail(where, "`required` only applies to an object member or a parameter")
    if schema.doc is not None and not DOC_CITATION.match(schema.doc):
        raise fail(
            where + ".doc", "cite a page (feishu-project/…) or `vendor-sdk: Go <Struct>[.<field>]`"
        )
    for i, alt in enumerate(schema.also_accepts or ()):
        check_schema(alt, f"{where}.also_accepts[{i}]", allow_required=False, known=known)
    if (schema.ref is None) == (schema.type is None):
        raise fail(where, "needs exactly one of `type` or `ref`")
    if schema.ref is not None:
        if schema.ref not in known:
            raise fail(where + ".ref", f"dangling reference {schema.ref!r}")
        return
    kind = schema.type
    for name in schema.__struct_fields__:
        kinds = applies_to(name)
        if kinds and kind not in kinds and getattr(schema, name) != _DEFAULTS[name]:
            raise fail(f"{where}.{name}", f"only applies to {' / '.join(kinds)}, not {kind}")
    if kind == "array" and schema.items is None:
        raise fail(where, "an array needs `items`")
    if schema.open and "type" not in schema.properties:
        raise fail(where + ".open", "an open object needs a `type` member (its discriminator)")
    if schema.pattern is not None:
        try:
            re.compile(schema.pattern)
        except re.error as exc:
            raise fail(where + ".pattern", f"not a regular expression: {exc}") from None
    if schema.enum is not None:
        py = str if kind == "string" else int if kind == "integer" else (int, float)
        if not all(isinstance(v, py) for v in schema.enum):
            raise fail(where + ".enum", f"values must all be of type {kind}")
    for sub, at, member in _children(schema, where):
        check_schema(sub, at, allow_required=member, known=known)
    _check_restricts(schema, where)


_DEFAULTS = {
    f.name: f.default_factory() if f.default is msgspec.NODEFAULT else f.default
    for f in msgspec.structs.fields(Schema)
}


def _children(schema: Schema, where: str) -> list[tuple[Schema, str, bool]]:
    """(sub-schema, its place, whether it is an object member) for each nested schema."""
    out = [(sub, f"{where}.properties.{n}", True) for n, sub in schema.properties.items()]
    if schema.items is not None:
        out.append((schema.items, where + ".items", False))
    if schema.additional is not None:
        out.append((schema.additional, where + ".additional", False))
    if schema.variants_by is not None:
        for value, sub in schema.variants_by.variants.items():
            out.append((sub, f"{where}.variants_by.variants.{value}", False))
    return out


def _check_restricts(schema: Schema, where: str) -> None:
    """`restricts` names a sibling enum and, per variant, the values it may take there."""
    for key, sub in schema.properties.items():
        restricts = sub.variants_by.restricts if sub.variants_by else None
        if restricts is None or sub.variants_by is None:
            continue
        here = f"{where}.properties.{key}.variants_by.restricts"
        sibling = schema.properties.get(restricts.member)
        if sibling is None or sibling.enum is None:
            raise fail(here + ".member", f"{restricts.member!r} is not a sibling enum member")
        for value, allowed in restricts.values.items():
            if value not in sub.variants_by.variants:
                raise fail(f"{here}.values.{value}", "is not one of the variants")
            if not set(allowed) <= set(sibling.enum):
                raise fail(f"{here}.values.{value}", f"must be a list drawn from {sibling.enum}")


# -- endpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What an endpoint's references resolve against."""

    platform: str
    rate_limits: dict[str, RateClass]
    schemas: set[str]
    codes: set[int]


def _check_params(params: dict[str, Param], path: str, where: str, known: set[str]) -> None:
    for name, param in params.items():
        at = f"{where}.params.{name}"
        if name in RESERVED_PARAMS:
            raise fail(at, f"{name!r} clashes with a reserved argument of the generated method")
        check_schema(param, at, allow_required=True, known=known)
        if param.in_ == "path" and not param.required:
            raise fail(at, "path parameters are always required")
    declared = sorted(n for n, p in params.items() if p.in_ == "path")
    in_path = sorted(re.findall(r":([a-z_]+)", path))
    if declared != in_path:
        raise fail(
            where + ".params", f"path parameters {declared} differ from the path's {in_path}"
        )


def _check_pagination(ep: EndpointSpec, where: str) -> None:
    pag = ep.pagination
    if pag is None:
        return
    needs = PAGINATION_STYLES.get(pag.style)
    if needs is None:
        raise fail(where + ".pagination.style", f"must be one of {', '.join(PAGINATION_STYLES)}")
    missing = [k for k in needs if getattr(pag, k) is None]
    if missing:
        raise fail(where + ".pagination", f"style {pag.style} needs {missing}")
    for request_path, response_path in pag.carry:
        if request_path.split(".")[0] not in ep.params:
            raise fail(f"{where}.pagination.carry", f"{request_path!r} is not a parameter")
        if response_path.split(".")[0] not in ep.response:
            raise fail(f"{where}.pagination.carry", f"{response_path!r} is not in the response")
    for key in PAGINATION_MEANINGS:
        value = getattr(pag, key)
        if key == "style" or not isinstance(value, str):
            continue
        if key.endswith("_param") and value not in ep.params:
            raise fail(f"{where}.pagination.{key}", f"{value!r} is not a parameter")
        if not key.endswith("_param") and value.split(".")[0] not in ep.response:
            raise fail(f"{where}.pagination.{key}", f"{value!r} is not in the response")


def _check_endpoint(ep: EndpointSpec, where: str, ctx: _Context) -> None:
    rules = PLATFORMS[ctx.platform]
    if ep.rate_limit not in ctx.rate_limits:
        raise fail(where + ".rate_limit", f"unknown class {ep.rate_limit!r}; see rate_limits.yaml")
    if ep.auth is not None and ep.auth not in rules.auth:
        raise fail(where + ".auth", f"must be one of {', '.join(rules.auth)}")
    if ep.envelope is not None and ep.envelope not in rules.envelopes:
        raise fail(where + ".envelope", f"must be one of {', '.join(rules.envelopes)}")
    if ep.user_key is not None and not rules.sends_user_key:
        raise fail(where + ".user_key", f"{ctx.platform} endpoints send no X-USER-KEY")
    _check_params(ep.params, ep.path, where, ctx.schemas)
    for name, sub in ep.response.items():
        check_schema(sub, f"{where}.response.{name}", allow_required=False, known=ctx.schemas)
    _check_pagination(ep, where)
    for code in ep.errors:
        if code not in ctx.codes:
            raise fail(where + ".errors", f"code {code} is missing from errors.yaml")
    for i, entry in enumerate(ep.vendor_differences):
        if not entry.field.startswith(("request.", "response.")):
            raise fail(f"{where}.vendor_differences[{i}]", "`field` starts request. or response.")


def _endpoint_at(ep: EndpointSpec, source: str, group: str, name: str, platform: str) -> Endpoint:
    rules = PLATFORMS[platform]
    given = msgspec.structs.asdict(ep)
    return Endpoint(
        **{
            **given,
            "auth": ep.auth or rules.auth[0],
            "user_key": ep.user_key or ("required" if rules.sends_user_key else "none"),
            "envelope": ep.envelope or rules.envelopes[0],
            "pagination": msgspec.convert(ep.pagination, PageSpec, from_attributes=True)
            if ep.pagination
            else None,
        },
        platform=platform,
        group=group,
        name=name,
        source=source,
    )


# -- files -------------------------------------------------------------------------------


def _load_schemas(root: Path, platform: Platform) -> None:
    for path in sorted((root / platform.name / "schemas").glob("*.yaml")):
        rel = str(path.relative_to(root))
        for name, schema in load_yaml(path, root, SchemaFile).schemas.items():
            if name in platform.schemas:
                raise fail(
                    rel, f"schema {name!r} is already defined in {platform.schema_sources[name]}"
                )
            platform.schemas[name] = schema
            platform.schema_sources[name] = rel
            if schema.vendor_differences:
                platform.schema_differences[name] = schema.vendor_differences
    known = set(platform.schemas)
    for name, schema in platform.schemas.items():
        where = f"{platform.schema_sources[name]}: schemas.{name}"
        check_schema(schema, where, allow_required=False, known=known)
        if schema.type != "object":
            raise fail(where, "shared schemas are objects")


def _load_endpoints(root: Path, platform: Platform, ctx: _Context) -> None:
    for path in sorted((root / platform.name).glob("*.yaml")):
        rel = str(path.relative_to(root))
        doc = load_yaml(path, root, EndpointFile)
        if doc.platform != platform.name:
            raise fail(rel + ": platform", f"must be {platform.name!r} (the directory)")
        for name, ep in doc.endpoints.items():
            _check_endpoint(ep, f"{rel}: endpoints.{name}", ctx)
            platform.endpoints.append(_endpoint_at(ep, rel, doc.group, name, platform.name))
    names = [(e.group, e.name) for e in platform.endpoints]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise fail(platform.name, f"duplicate endpoint names {sorted(dupes)}")
    generated = {e.request_name for e in platform.endpoints}
    generated |= {e.response_name for e in platform.endpoints}
    clash = generated & set(platform.schemas)
    if clash:
        raise fail(
            platform.name,
            f"schema names clash with generated request/response names: {sorted(clash)}",
        )


def _check_errors(errors: ErrorsFile) -> None:
    for plat in PLATFORMS:
        seen: set[int] = set()
        for i, entry in enumerate(getattr(errors, plat)):
            if entry.code in seen:
                raise fail(f"errors.yaml: {plat}[{i}]", f"duplicate code {entry.code}")
            seen.add(entry.code)


def _check_listed(rows: list[EndpointRow], platforms: dict[str, Platform]) -> None:
    """endpoints.tsv and the specs name the same endpoints, each with the same source."""
    listed: dict[tuple[str, str, str], str] = {
        (r.platform, r.method, r.path): r.source for r in rows
    }
    specced = {(p, e.method, e.path): e for p, pl in platforms.items() for e in pl.endpoints}
    if listed.keys() != specced.keys():
        missing = sorted(listed.keys() - specced.keys())
        extra = sorted(specced.keys() - listed.keys())
        raise fail(
            "endpoints.tsv",
            f"specs and the endpoint list differ: missing {missing}, not listed {extra}",
        )
    wrong = sorted(
        f"{key[1]} {key[2]}: listed {listed[key]!r}, spec doc says {ep.doc_source!r}"
        for key, ep in specced.items()
        if listed[key] != ep.doc_source
    )
    if wrong:
        raise fail(
            "endpoints.tsv", "the source column disagrees with the specs: " + "; ".join(wrong)
        )


def load(root: Path) -> Specs:
    """Every file under `root` (a specs/ tree), decoded and cross-checked."""
    root = Path(root)
    rate_limits = load_yaml(root / "rate_limits.yaml", root, RateLimitsFile).classes
    errors_path = root / "errors.yaml"
    errors = load_yaml(errors_path, root, ErrorsFile) if errors_path.exists() else ErrorsFile()
    _check_errors(errors)
    rows = load_tsv(root / "endpoints.tsv", root, EndpointRow)
    platforms: dict[str, Platform] = {}
    for plat in PLATFORMS:
        platform = platforms[plat] = Platform(plat)
        _load_schemas(root, platform)
        codes = {e.code for e in getattr(errors, plat)}
        _load_endpoints(root, platform, _Context(plat, rate_limits, set(platform.schemas), codes))
    _check_listed(rows, platforms)
    return Specs(
        root=root,
        platforms=platforms,
        rate_limits=rate_limits,
        errors={plat: list(getattr(errors, plat)) for plat in PLATFORMS},
        endpoint_rows=rows,
    )
