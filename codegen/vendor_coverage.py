"""How much of the vendor SDKs' wire fields our generated models carry (specs/vendor-sdk/).

For every endpoint of `fields.json` that has a spec, each request and response field at every
nesting level must be a member of the generated msgspec Struct at the same place, with a type
that accepts the vendor's kind — or be excused by a `vendor_differences` entry (on the endpoint,
or on a shared schema the field lives in) that gives the reason. Paths are dotted wire names
(`response.data.fields.target_state`); list items and map values add no segment.

`python -m codegen.vendor_coverage` prints the figures and every unexcused gap.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from .spec import Endpoint, Specs, load

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT / "specs" / "vendor-sdk"
SIDES = ("request", "response")
# The vendor's kind → msgspec type infos that decode it (floats accept integers).
ACCEPTS: dict[str, tuple[type, ...]] = {
    "int": (mi.IntType, mi.FloatType),
    "float": (mi.FloatType,),
    "str": (mi.StrType,),
    "bool": (mi.BoolType,),
    "list": (mi.ListType,),
    "dict": (mi.DictType,),
    "object": (mi.StructType, mi.DictType, mi.CustomType),
    "file": (mi.StrType, mi.BytesType),
}
LITERAL_KINDS = {str: "str", int: "int"}


def route_key(method: str, path: str) -> str:
    """`METHOD /path` with path parameters unnamed: specs and facts may name them differently."""
    return f"{method} {re.sub(r':[A-Za-z_]+', ':', path)}"


@dataclass(frozen=True)
class Field:
    """One vendor field as found (or not) in our models."""

    endpoint: str
    path: str  # request.x.y / response.x.y
    vendor_kind: str
    problem: str | None  # None: carried; else "missing" or "type: …"
    anchors: tuple[tuple[str, str], ...]  # (shared schema, path inside it) on the way down


@dataclass
class Excuse:
    where: str  # "<spec file>: endpoints.<name>" or "<schema file>: schemas.<Name>"
    field: str
    reason: str
    used: int = 0


@dataclass
class Report:
    fields: list[Field] = field(default_factory=list)
    excused: list[tuple[Field, Excuse]] = field(default_factory=list)
    gaps: list[Field] = field(default_factory=list)
    stale: list[Excuse] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)  # vendor endpoints we have a spec for
    unspecced: list[str] = field(default_factory=list)  # vendor endpoints without a spec

    def counts(self, side: str) -> tuple[int, int]:
        mine = [f for f in self.fields if f.path.startswith(side + ".")]
        return sum(f.problem is None for f in mine), len(mine)

    def percent(self, side: str) -> float:
        carried, total = self.counts(side)
        return 100.0 * carried / total if total else 100.0

    def full_matches(self) -> int:
        broken = {f.endpoint for f in self.fields if f.problem}
        return len([e for e in self.endpoints if e not in broken])

    def summary(self) -> str:
        lines = []
        for side in SIDES:
            carried, total = self.counts(side)
            lines.append(f"{side} fields: {carried}/{total} = {self.percent(side):.1f} %")
        lines.append(f"endpoints matching fully: {self.full_matches()}/{len(self.endpoints)}")
        lines.append(
            f"differences excused: {len(self.excused)}, unexcused: {len(self.gaps)}, "
            f"stale entries: {len(self.stale)}; vendor endpoints without a spec: "
            f"{len(self.unspecced)}"
        )
        return "\n".join(lines)


def load_facts(root: Path = FACTS) -> dict[str, Any]:
    return json.loads((root / "fields.json").read_text(encoding="utf-8"))["endpoints"]  # type: ignore[no-any-return]


def vendor_routes(root: Path = FACTS) -> set[str]:
    """Every Feishu Project route the vendor SDKs implement (fields.json ∪ beyond.json)."""
    beyond = json.loads((root / "beyond.json").read_text(encoding="utf-8"))["endpoints"]
    entries = list(load_facts(root).values()) + list(
        beyond.values() if isinstance(beyond, dict) else beyond
    )
    return {route_key(e["method"], e["path"]) for e in entries}


# -- our side: msgspec type infos ------------------------------------------------------------
def _unwrap(info: Any) -> list[Any]:
    """The decodable alternatives of a type info (drops None, opens Metadata and unions)."""
    if isinstance(info, mi.Metadata):
        return _unwrap(info.type)
    if isinstance(info, mi.UnionType):
        return [alt for sub in info.types for alt in _unwrap(sub)]
    if isinstance(info, mi.NoneType):
        return []
    if isinstance(info, mi.CustomType) and hasattr(info.cls, "_fields_name"):
        # An open block wrapper: its members are typed by the closed `<Name>Fields` Struct.
        models = importlib.import_module(getattr(info.cls, "_module"))  # noqa: B009
        return [mi.type_info(getattr(models, info.cls._fields_name))]
    return [info]


def _accepts(alternatives: list[Any], kind: str) -> bool:
    if kind == "any" or any(isinstance(a, mi.AnyType) for a in alternatives):
        return True
    for alt in alternatives:
        if isinstance(alt, mi.LiteralType):
            if any(LITERAL_KINDS.get(type(v)) == kind for v in alt.values):
                return True
        elif isinstance(alt, ACCEPTS.get(kind, ())):
            return True
    return False


def _children(alternatives: list[Any], key: str) -> list[Any]:
    """Where a vendor member's children live among our alternatives (items, map values)."""
    out = []
    for alt in alternatives:
        if key == "items" and isinstance(alt, (mi.ListType, mi.SetType)):
            out += _unwrap(alt.item_type)
        elif key == "values" and isinstance(alt, mi.DictType):
            out += _unwrap(alt.value_type)
    return out


def _schema_name(info: Any) -> str | None:
    if isinstance(info, mi.StructType):
        return info.cls.__name__.removesuffix("Fields")
    return None


def walk(
    endpoint: str,
    prefix: str,
    members: dict[str, Any],
    ours: list[Any],
    anchors: tuple[tuple[str, str], ...],
    schemas: set[str],
) -> Iterator[Field]:
    """Yield one Field per vendor member of `members` (and their descendants) against `ours`."""
    structs = [a for a in ours if isinstance(a, mi.StructType)]
    for name, tree in members.items():
        found = [f for s in structs for f in s.fields if f.encode_name == name]
        alternatives = [alt for f in found for alt in _unwrap(f.type)]
        here = tuple((s, f"{p}.{name}" if p else name) for s, p in anchors)
        here += tuple((n, name) for s in structs if (n := _schema_name(s)) in schemas)
        kind = tree["kind"]
        problem = None
        if not found:
            problem = "missing"
        elif not _accepts(alternatives, kind):
            kinds = sorted({type(a).__name__.removesuffix("Type") for a in alternatives})
            problem = f"type: vendor {kind}, ours {'|'.join(kinds)}"
        yield Field(endpoint, f"{prefix}.{name}", kind, problem, here)
        yield from _descend(endpoint, f"{prefix}.{name}", tree, alternatives, here, schemas)


def _descend(
    endpoint: str,
    path: str,
    tree: dict[str, Any],
    ours: list[Any],
    anchors: tuple[tuple[str, str], ...],
    schemas: set[str],
) -> Iterator[Field]:
    # Lists and maps are transparent: their element's members sit under the member's own path.
    while tree.get("kind") in {"list", "dict"}:
        key = "items" if tree["kind"] == "list" else "values"
        ours = _children(ours, key)
        tree = tree.get(key) or {}
    if tree.get("fields"):
        yield from walk(endpoint, path, tree["fields"], ours, anchors, schemas)


# -- excuses ---------------------------------------------------------------------------------
def _excuses(specs: Specs) -> tuple[dict[str, list[Excuse]], dict[str, list[Excuse]]]:
    """`vendor_differences` entries by endpoint route and by shared schema name."""
    project = specs.platforms["project"]
    by_route = {
        route_key(ep.method, ep.path): [
            Excuse(f"{ep.source}: endpoints.{ep.name}", d.field, d.reason)
            for d in ep.vendor_differences
        ]
        for ep in project.endpoints
    }
    by_schema = {
        name: [
            Excuse(f"{project.schema_sources[name]}: schemas.{name}", d.field, d.reason)
            for d in entries
        ]
        for name, entries in project.schema_differences.items()
    }
    return by_route, by_schema


def _covers(entry: str, path: str) -> bool:
    return path == entry or path.startswith(entry + ".")


def _excuse_for(
    item: Field, by_route: dict[str, list[Excuse]], by_schema: dict[str, list[Excuse]]
) -> Excuse | None:
    for excuse in by_route.get(item.endpoint, []):
        if _covers(excuse.field, item.path):
            return excuse
    for schema, inner in item.anchors:
        for excuse in by_schema.get(schema, []):
            if _covers(excuse.field, inner):
                return excuse
    return None


# -- citations -------------------------------------------------------------------------------
CITATION = re.compile(r"^vendor-sdk: Go ([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$")


def _vendor_members(facts: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, wire name) pairs the facts hold: request/response types and every named struct."""
    found: set[tuple[str, str]] = set()

    def visit(tree: dict[str, Any]) -> None:
        for name, sub in (tree.get("fields") or {}).items():
            found.add((tree.get("struct", ""), name))
            visit(sub)
        for key in ("items", "values"):
            if isinstance(tree.get(key), dict):
                visit(tree[key])

    for fact in facts.values():
        for name, member in fact["request"].items():
            found.add((fact["request_type"], name))
            visit(member["type"])
        for name, tree in (fact.get("response") or {}).items():
            found.add((fact["response_type"], name))
            visit(tree)
    return found


def _docs(node: Any) -> Iterator[str]:
    if isinstance(node, msgspec.Struct):
        if isinstance(getattr(node, "doc", None), str):
            yield node.doc  # type: ignore[attr-defined]
        for name in node.__struct_fields__:
            yield from _docs(getattr(node, name))
    elif isinstance(node, dict):
        for value in node.values():
            yield from _docs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _docs(value)


def bad_citations(specs: Specs, facts_root: Path = FACTS) -> list[str]:
    """`vendor-sdk: Go <Type>.<field>` citations in the specs that name nothing in the facts."""
    known = _vendor_members(load_facts(facts_root))
    project = specs.platforms["project"]
    nodes: list[Any] = list(project.schemas.values())
    nodes += [[*ep.params.values(), ep.response] for ep in project.endpoints]
    cited = {m.groups() for doc in _docs(nodes) if (m := CITATION.match(doc))}
    return sorted(f"{t}.{f}" for t, f in cited - known)


# -- the report ------------------------------------------------------------------------------
def _models(ep: Endpoint) -> tuple[Any, Any]:
    rq = importlib.import_module(f"aiofeishu.{ep.platform}.requests")
    m = importlib.import_module(f"aiofeishu.{ep.platform}.models")
    return getattr(rq, ep.request_name), getattr(m, ep.response_name)


def _vendor_request(fact: dict[str, Any]) -> dict[str, Any]:
    return {name: member["type"] for name, member in fact["request"].items()}


def coverage(specs: Specs | None = None, facts_root: Path = FACTS) -> Report:
    specs = specs or load(ROOT / "specs")
    project = specs.platforms["project"]
    ours = {route_key(ep.method, ep.path): ep for ep in project.endpoints}
    schemas = set(project.schemas)
    by_route, by_schema = _excuses(specs)
    report = Report()
    for _, fact in sorted(load_facts(facts_root).items()):
        route = route_key(fact["method"], fact["path"])
        ep = ours.get(route)
        if ep is None:
            report.unspecced.append(route)
            continue
        report.endpoints.append(route)
        request_type, response_type = _models(ep)
        for side, vendor, model in (
            ("request", _vendor_request(fact), request_type),
            ("response", fact.get("response") or {}, response_type),
        ):
            report.fields += walk(route, side, vendor, [mi.type_info(model)], (), schemas)
    for item in report.fields:
        if item.problem is None:
            continue
        excuse = _excuse_for(item, by_route, by_schema)
        if excuse is None:
            report.gaps.append(item)
        else:
            excuse.used += 1
            report.excused.append((item, excuse))
    report.stale = [
        e for group in (*by_route.values(), *by_schema.values()) for e in group if not e.used
    ]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.vendor_coverage")
    parser.add_argument("--excused", action="store_true", help="also list excused differences")
    args = parser.parse_args()
    report = coverage()
    for gap in report.gaps:
        print(f"GAP   {gap.endpoint}  {gap.path}: {gap.problem}")
    for excuse in report.stale:
        print(f"STALE {excuse.where}: {excuse.field} excuses no vendor field")
    if args.excused:
        for item, excuse in report.excused:
            print(f"OK    {item.endpoint}  {item.path}: {item.problem} — {excuse.reason}")
    print(report.summary())
    return 1 if report.gaps or report.stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
