"""Our generated models carry every wire field the vendor's SDKs know (specs/vendor-sdk/).

Like slack_sdk's method-list test: the vendor's Go SDK is an independent statement of each
endpoint's fields. Every one must be in our models (same place, a type that decodes it) or be
listed under `vendor_differences` with a reason; no entry may excuse a field the facts lack.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from codegen.spec import load
from codegen.vendor_coverage import FACTS, bad_citations, coverage, route_key, vendor_routes

SPECS = Path(__file__).resolve().parents[1] / "specs"
# Flip to True once part B (the 45 endpoints of beyond.json) is merged: from then on every
# route the vendor's SDKs implement must have a spec, and the test below must pass.
ALL_VENDOR_ENDPOINTS_SPECCED = True
MIN_PERCENT = 99.0
FILTER = "POST /open_api/:project_key/work_item/filter"


@pytest.fixture(scope="module")
def report() -> Any:
    return coverage()


def test_models_carry_the_vendor_sdk_fields(report: Any) -> None:
    print("\n" + report.summary())
    unexcused = [f"{g.endpoint} {g.path}: {g.problem}" for g in report.gaps]
    assert unexcused == [], "add the field to the spec, or a vendor_differences entry"
    assert report.percent("request") >= MIN_PERCENT
    assert report.percent("response") >= MIN_PERCENT
    assert len(report.endpoints) >= 87  # every documented endpoint the facts cover is counted


def test_no_difference_entry_is_stale(report: Any) -> None:
    stale = [f"{e.where}: {e.field}" for e in report.stale]
    assert stale == [], "these vendor_differences excuse no field the facts hold"


def test_vendor_sdk_citations_name_fields_of_the_facts() -> None:
    assert bad_citations(load(SPECS)) == []


def _facts_copy(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    target = tmp_path / "vendor-sdk"
    shutil.copytree(FACTS, target)
    return target, json.loads((target / "fields.json").read_text(encoding="utf-8"))


def _write(target: Path, facts: dict[str, Any]) -> None:
    (target / "fields.json").write_text(json.dumps(facts), encoding="utf-8")


def test_a_field_we_lack_is_a_gap(tmp_path: Path) -> None:
    target, facts = _facts_copy(tmp_path)
    item = facts["endpoints"][FILTER]["response"]["data"]["items"]
    item["fields"]["brand_new_member"] = {"go_type": "*string", "kind": "str"}
    _write(target, facts)

    gaps = [(g.path, g.problem) for g in coverage(facts_root=target).gaps]

    assert gaps == [("response.data.brand_new_member", "missing")]


def test_a_field_of_another_type_is_a_gap(tmp_path: Path) -> None:
    target, facts = _facts_copy(tmp_path)
    facts["endpoints"][FILTER]["request"]["page_size"]["type"]["kind"] = "str"
    _write(target, facts)

    gaps = [(g.path, g.problem) for g in coverage(facts_root=target).gaps]

    assert gaps == [("request.page_size", "type: vendor str, ours Int")]


def test_an_entry_for_a_field_the_facts_lack_is_stale(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs, ignore=shutil.ignore_patterns("examples", "vendor-sdk"))
    path = specs / "project" / "work_items.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "  filter:\n"
    entry = "    vendor_differences:\n      - {field: response.data.no_such_member, reason: test}\n"
    path.write_text(text.replace(anchor, anchor + entry, 1), encoding="utf-8")

    stale = [(e.where, e.field) for e in coverage(load(specs)).stale]

    assert stale == [("project/work_items.yaml: endpoints.filter", "response.data.no_such_member")]


@pytest.mark.xfail(
    not ALL_VENDOR_ENDPOINTS_SPECCED,
    reason="part B adds the 45 endpoints of beyond.json; flip ALL_VENDOR_ENDPOINTS_SPECCED then",
    strict=True,
)
def test_every_vendor_endpoint_is_specced() -> None:
    specs = load(SPECS)
    ours = {route_key(ep.method, ep.path) for ep in specs.platforms["project"].endpoints}
    assert sorted(vendor_routes() - ours) == []
