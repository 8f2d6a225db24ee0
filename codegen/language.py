"""The spec language: every key a file under specs/ may hold, as typed msgspec Structs.

One field per key, with its meaning in ``key(...)``: decoding refuses unknown keys and
wrong types (naming the file and the path, see ``decoding.py``), and specs/README.md's
reference tables are generated from these classes. What types cannot say (a reference
resolves, a constraint fits its type, a path parameter is in the path) is checked in
``spec.py``. To add a key: add a field here, then use it in the emitters.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from aiofeishu._endpoint import PageSpec

SchemaType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]
Identifier = Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]*$")]
NonEmpty = Annotated[str, Meta(min_length=1, pattern=r"\S")]
SchemaName = Annotated[str, Meta(pattern=r"^[A-Z][A-Za-z0-9]*$")]
Positive = Meta(gt=0)


def key(meaning: str, *, applies_to: tuple[str, ...] = ()) -> Meta:
    """A key's meaning (for the docs) and, on schema keys, the types it applies to."""
    return Meta(description=meaning, extra={"applies_to": applies_to})


class Spec(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Base of every spec Struct: unknown keys are errors."""


@dataclass(frozen=True)
class PlatformRules:
    """What differs between the two platforms' endpoints."""

    title: str
    client: str
    auth: tuple[str, ...]  # the first is the default
    envelopes: tuple[str, ...]  # the first is the default
    sends_user_key: bool


PLATFORMS = {
    "project": PlatformRules(
        title="Feishu Project Open API",
        client="ProjectClient",
        auth=("plugin", "plugin_only", "none"),
        envelopes=("project", "authen"),
        sends_user_key=True,
    ),
    "open": PlatformRules(
        title="Feishu Open Platform",
        client="OpenClient",
        auth=("tenant", "none"),
        envelopes=("open",),
        sends_user_key=False,
    ),
}
PlatformName = Literal["project", "open"]


def _per_platform(choices: typing.Callable[[PlatformRules], tuple[str, ...]]) -> str:
    return "; ".join(
        f"{name}: " + " | ".join(choices(rules)) + " (default " + choices(rules)[0] + ")"
        for name, rules in PLATFORMS.items()
    )


# -- schemas -----------------------------------------------------------------------------

NUMBERS = ("integer", "number")


class Restricts(Spec, kw_only=True):
    """Per variant, the values a sibling enum may take (the operators a search parameter accepts)."""

    member: Annotated[str, key("the sibling member, an enum")]
    values: Annotated[dict[str, list[str]], key("variant value → the allowed enum values")]


class VariantsBy(Spec, kw_only=True):
    """Typed views of an `any` member whose shape depends on a sibling's value."""

    field: Annotated[str, key("the sibling member whose value picks the variant")]
    variants: Annotated[dict[str, Schema], key("sibling value → schema of this member")]
    restricts: Annotated[Restricts | None, key("optional: see Restricts")] = None


class VendorDifference(Spec, kw_only=True):
    """Where our model deliberately differs from the vendor SDK's facts, and why."""

    field: Annotated[
        NonEmpty,
        key(
            "dotted wire path: request.<path> / response.<path> on an endpoint, relative to "
            "the schema on a shared schema; covers everything under it"
        ),
    ]
    reason: Annotated[NonEmpty, key("why (which source we follow)")]


class Schema(Spec, kw_only=True):
    """A JSON-Schema subset with snake_case keys: a value's shape."""

    type: Annotated[SchemaType | None, key("the value's JSON type; exactly one of type / ref")] = (
        None
    )
    ref: Annotated[str | None, key("name of a shared schema of the same platform")] = None
    format: Annotated[
        str | None, key("informational (int64, timestamp_ms, …); binary marks a file upload")
    ] = None
    description: Annotated[str | None, key("from the doc page; becomes the docstring")] = None
    required: Annotated[
        bool, key("on an object member or parameter: must be sent (responses never require)")
    ] = False
    nullable: Annotated[bool, key("the wire may carry null")] = False
    enum: Annotated[
        Annotated[list[str | int | float], Meta(min_length=1)] | None,
        key(
            "allowed values: enforced on requests, documented only on responses",
            applies_to=("string", *NUMBERS),
        ),
    ] = None
    minimum: Annotated[int | float | None, key("enforced on requests", applies_to=NUMBERS)] = None
    maximum: Annotated[int | float | None, key("enforced on requests", applies_to=NUMBERS)] = None
    min_length: Annotated[int | None, key("enforced on requests", applies_to=("string",))] = None
    max_length: Annotated[int | None, key("enforced on requests", applies_to=("string",))] = None
    pattern: Annotated[
        str | None, key("a regular expression, enforced on requests", applies_to=("string",))
    ] = None
    min_items: Annotated[int | None, key("enforced on requests", applies_to=("array",))] = None
    max_items: Annotated[int | None, key("enforced on requests", applies_to=("array",))] = None
    items: Annotated[Schema | None, key("the element schema", applies_to=("array",))] = None
    properties: Annotated[
        dict[str, Schema],
        key("members by wire name (Python attributes are snake_case)", applies_to=("object",)),
    ] = {}
    additional: Annotated[
        Schema | None, key("an object used as a map: its values' schema", applies_to=("object",))
    ] = None
    open: Annotated[
        bool,
        key(
            "an object with a `type` discriminator whose unknown block types responses keep"
            " whole (`.raw`)",
            applies_to=("object",),
        ),
    ] = False
    variants_by: Annotated[
        VariantsBy | None, key("typed views by a sibling's value", applies_to=("any",))
    ] = None
    default: Annotated[Any, key("the doc's default, informational")] = None
    deprecated: Annotated[bool, key("the doc marks it deprecated")] = False
    doc: Annotated[
        str | None,
        key(
            "its source: a page (feishu-project/…, open-platform/…) or "
            "`vendor-sdk: Go|Java <Struct>.<wire name>` when no page backs it"
        ),
    ] = None
    also_accepts: Annotated[
        list[Schema] | None,
        key(
            "other shapes a response may carry (another source says so); requests send the main one"
        ),
    ] = None
    vendor_differences: Annotated[
        list[VendorDifference] | None,
        key("on a shared schema: its deliberate differences from the vendor SDK"),
    ] = None


def applies_to(name: str) -> tuple[str, ...]:
    """The schema types a Schema key applies to (empty: all)."""
    return _APPLIES_TO.get(name, ())


def _meta(cls: type[Struct], name: str) -> Meta:
    hint = typing.get_type_hints(cls, include_extras=True)[name]
    return next(m for m in reversed(typing.get_args(hint)) if isinstance(m, Meta))


_APPLIES_TO = {
    f.name: tuple((_meta(Schema, f.name).extra or {}).get("applies_to", ()))
    for f in msgspec.structs.fields(Schema)
}


# -- endpoints ---------------------------------------------------------------------------


class Param(Schema, kw_only=True):
    """An endpoint argument: a schema plus where it travels."""

    in_: Annotated[Literal["path", "query", "body"], key("where it travels")] = msgspec.field(
        name="in"
    )


# The keys each style needs besides `items`.
PAGINATION_STYLES = {
    "page": ("page_param", "size_param"),
    "cursor": ("cursor_param", "next_cursor"),
    "search_after": ("carry",),
    "offset": ("offset_param", "size_param"),
}
# The runtime's PageSpec is the one statement of the pagination keys; only their meaning is
# here. By name: a key ending in `_param` names a parameter; `style` and the `max_` numbers
# aside, every other key is a dotted path into the response (both are checked in spec.py).
PAGINATION_MEANINGS = {
    "style": " | ".join(f"{name} ({'/'.join(keys)})" for name, keys in PAGINATION_STYLES.items()),
    "page_param": "style page: the parameter holding the page number",
    "size_param": "the parameter holding the page size",
    "items": "dotted path in the response to the page's items",
    "total": "optional dotted path to the total count",
    "max_page_size": "the largest page the docs allow",
    "max_total": "the docs' cap; iterating past it raises instead of looping",
    "cursor_param": "style cursor: the parameter carrying the cursor",
    "next_cursor": "style cursor: dotted response path of the next cursor",
    "has_more": "optional dotted response path of the has-more flag",
    "offset_param": "style offset: the parameter holding the offset of the first item",
    "carry": (
        "style search_after: [[request path, response path], …] copied from each page into "
        "the next request; the first is the cursor (search_after / pit in universal search)"
    ),
}


def _pagination_struct() -> type[Struct]:
    """A Struct with PageSpec's fields, types and defaults (unknown keys refused)."""
    hints = typing.get_type_hints(PageSpec)
    fields = dataclasses.fields(PageSpec)
    if {f.name for f in fields} != set(PAGINATION_MEANINGS):
        raise RuntimeError("PAGINATION_MEANINGS must describe exactly PageSpec's fields")
    spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in fields:
        kind: Any = Annotated[hints[f.name], key(PAGINATION_MEANINGS[f.name])]
        spec.append(
            (f.name, kind) if f.default is dataclasses.MISSING else (f.name, kind, f.default)
        )
    return msgspec.defstruct(
        "Pagination",
        spec,
        bases=(Spec,),
        kw_only=True,
        forbid_unknown_fields=True,
        omit_defaults=True,
        module=__name__,
    )


if TYPE_CHECKING:
    Pagination = PageSpec
else:
    Pagination = _pagination_struct()
    Pagination.__doc__ = "How an endpoint pages: the keys of the runtime's PageSpec."


class EndpointSpec(Spec, kw_only=True):
    """One endpoint: `client.<group>.<name>(...)`."""

    summary: Annotated[str, key("the doc page's title")]
    doc: Annotated[
        str, key('page under ../shared/docs, or "feishu-project/11-API-列表.md (listed, no page)"')
    ]
    method: Annotated[Literal["GET", "POST", "PUT", "PATCH", "DELETE"], key("HTTP method")]
    path: Annotated[str, key("exactly as in endpoints.tsv; `:name` marks a path parameter")]
    writes: Annotated[
        bool,
        key(
            "it changes state: project endpoints send one X-IDEM-UUID per logical call (reused"
            " on retries); open ones are not retried after an ambiguous failure"
        ),
    ]
    rate_limit: Annotated[str, key("a class of rate_limits.yaml")] = "default"
    auth: Annotated[
        str | None,
        key(
            _per_platform(lambda rules: rules.auth)
            + "; plugin_only sends no X-USER-KEY, none no token"
        ),
    ] = None
    user_key: Annotated[
        Literal["required", "optional", "none"] | None,
        key("project only: X-USER-KEY with a plugin token (default required)"),
    ] = None
    envelope: Annotated[str | None, key(_per_platform(lambda rules: rules.envelopes))] = None
    params: Annotated[
        dict[Identifier, Param], key("every argument, keyed by the docs' (wire) name")
    ] = {}
    response: Annotated[
        dict[str, Schema], key("envelope-level members besides the envelope's own (err, code, …)")
    ] = {}
    pagination: Annotated[
        Pagination | None, key("makes the method awaitable *and* async-iterable")
    ] = None
    errors: Annotated[list[int], key("codes the page lists (each in errors.yaml)")] = []
    notes: Annotated[list[str], key("corrections of the docs, each with its reason")] = []
    vendor_differences: Annotated[
        list[VendorDifference], key("deliberate differences from the vendor SDK's fields")
    ] = []
    multipart: Annotated[bool, key("the body is multipart/form-data (uploads)")] = False
    download: Annotated[bool, key("the response is a file, streamed as a Download")] = False


class EndpointFile(Spec, kw_only=True):
    """`specs/<platform>/<group>.yaml`: one doc group's endpoints."""

    platform: Annotated[PlatformName, key("the directory it sits in")]
    group: Annotated[Identifier, key("the client attribute: client.<group>")]
    endpoints: Annotated[dict[Identifier, EndpointSpec], key("method name → endpoint")] = {}


class SchemaFile(Spec, kw_only=True):
    """`specs/<platform>/schemas/*.yaml`: shared structures."""

    schemas: Annotated[
        dict[SchemaName, Schema], key("CamelCase name → object schema (may carry doc)")
    ] = {}


# -- rate limits, errors, the endpoint list ---------------------------------------------


class Window(Spec, kw_only=True):
    """At most `limit` calls in any `period` seconds."""

    limit: Annotated[int, Positive, key("calls")]
    period: Annotated[float, Positive, key("seconds")]


class RateClass(Spec, kw_only=True):
    """A rate-limit class: a call waits until every window has room."""

    doc: Annotated[str, key("the page stating the limit")]
    description: Annotated[str, key("the limit as the page states it")] = ""
    windows: Annotated[
        Annotated[list[Window], Meta(min_length=1)], key("sliding windows per token identity")
    ]
    concurrency: Annotated[
        Annotated[int, Meta(gt=0)] | None, key("calls in flight at most per token (page 62)")
    ] = None


class RateLimitsFile(Spec, kw_only=True):
    """`specs/rate_limits.yaml`."""

    classes: Annotated[dict[Identifier, RateClass], key("class name → windows")]


class Hint(Spec, kw_only=True):
    """A probable cause or fix the docs give."""

    text: Annotated[str, key("as printed")]
    page: Annotated[str, key("the page printing it")]


ErrorKind = Literal[
    "auth", "permission", "not_found", "rate_limit", "idempotency", "bad_request", "server"
]


class ErrorEntry(Spec, kw_only=True):
    """One error code of one platform."""

    code: Annotated[int, key("err_code (project) / code (open) as printed")]
    status: Annotated[int | None, key("HTTP status a page gives; null if none")] = None
    status_inferred: Annotated[
        bool, key("no page gives a status; kind inferred from the code family")
    ] = False
    kind: Annotated[ErrorKind, key("→ the exception class")] = "bad_request"
    meaning: Annotated[str, key("the documented meaning, when no message says it")] = ""
    messages: Annotated[list[str], key("distinct messages, in order of appearance")] = []
    hints: Annotated[list[Hint], key("causes and fixes, with their page")] = []
    pages: Annotated[list[str], key("every page whose error table lists the code")] = []
    inner_codes: Annotated[list[int], key("err.code values seen under this err_code")] = []
    inner_only: Annotated[bool, key("the code appears only as err.code")] = False
    outer_codes: Annotated[list[int], key("inner_only: the err_code values it came with")] = []
    note: Annotated[str, key("decisions and contradictions between pages")] = ""
    renews_token: Annotated[
        bool, key("the token itself was rejected: drop it, fetch one, send once more")
    ] = False


class ErrorsFile(Spec, kw_only=True):
    """`specs/errors.yaml`: every error code on the doc pages."""

    project: Annotated[list[ErrorEntry], key("Feishu Project codes")] = []
    open: Annotated[list[ErrorEntry], key("Open Platform codes")] = []


class EndpointRow(Spec, kw_only=True):
    """A row of `specs/endpoints.tsv`, the vendor's endpoint list (columns by header)."""

    platform: Annotated[PlatformName, key("project | open")]
    method: Annotated[str, key("HTTP method")]
    path: Annotated[str, key("the path, exactly as the spec writes it")]
    doc: Annotated[str, key("the vendor's page reference")]
    title: Annotated[str, key("the vendor's title")]
    source: Annotated[
        Literal["doc page", "vendor SDK"], key("where the endpoint's facts come from")
    ] = "doc page"


# Every file kind, for the generated reference (specs/README.md), in reading order.
LANGUAGE: tuple[type[Any], ...] = (
    EndpointFile,
    EndpointSpec,
    Param,
    Pagination,
    Schema,
    VariantsBy,
    Restricts,
    SchemaFile,
    RateLimitsFile,
    RateClass,
    Window,
    ErrorsFile,
    ErrorEntry,
    Hint,
    EndpointRow,
)
