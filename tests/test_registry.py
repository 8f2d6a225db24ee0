"""The client against the vendor's endpoint list (our copy in specs/, and the original when present)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aiofeishu import OpenClient, ProjectClient
from aiofeishu.open.endpoints import ALL as OPEN_ENDPOINTS
from aiofeishu.project.endpoints import ALL as PROJECT_ENDPOINTS

ROOT = Path(__file__).resolve().parents[1]
OUR_COPY = ROOT / "specs" / "endpoints.tsv"
VENDOR = ROOT.parent / "shared" / "docs" / "ENDPOINTS.tsv"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_every_listed_endpoint_exists_once_and_nothing_else() -> None:
    listed = {(r["platform"], r["method"], r["path"]) for r in rows(OUR_COPY)}
    ours = [(e.platform, e.method, e.path) for e in (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS)]
    assert len(ours) == len(set(ours)), "an endpoint is specced twice"
    assert sorted(listed - set(ours)) == [], "endpoints missing from the SDK"
    assert sorted(set(ours) - listed) == [], "endpoints not in the vendor list"
    assert (
        len(ours) == 135
    )  # 132 Feishu Project (87 on the docs' list + 45 only in the vendor SDKs) + 3 Open Platform
    assert sum(e.platform == "project" for e in (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS)) == 132


def test_doc_pages_match_the_list() -> None:
    by_key = {(r["method"], r["path"]): r["doc"] for r in rows(OUR_COPY)}
    for e in (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS):
        listed = by_key[(e.method, e.path)]
        if listed.startswith("vendor-sdk:"):
            assert e.doc == listed and "(no page)" in e.doc, e.key
        elif "listed, no page" in listed:
            assert "listed, no page" in e.doc, e.key
        elif listed.startswith("feishu-project page "):
            assert e.doc.startswith(f"feishu-project/{listed.split()[-1]}-"), (e.key, e.doc, listed)
        else:
            assert e.doc == listed, e.key


def test_our_copy_matches_the_vendor_list_when_present() -> None:
    if not VENDOR.exists():
        pytest.skip("../shared/docs/ENDPOINTS.tsv is not beside this checkout")
    # our copy = the vendor's rows (source "doc page") + the endpoints only the vendor SDKs know
    ours = [r for r in rows(OUR_COPY) if r.pop("source") == "doc page"]
    assert ours == rows(VENDOR), "specs/endpoints.tsv drifted from the vendor's list"


def test_the_source_column_says_where_each_endpoint_comes_from() -> None:
    sources = {(r["method"], r["path"]): r["source"] for r in rows(OUR_COPY)}
    assert set(sources.values()) == {"doc page", "vendor SDK"}
    assert sum(s == "vendor SDK" for s in sources.values()) == 45
    for e in (*PROJECT_ENDPOINTS, *OPEN_ENDPOINTS):
        assert (sources[(e.method, e.path)] == "vendor SDK") == e.doc.startswith("vendor-sdk:"), (
            e.key
        )


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (lambda: ProjectClient("p", "s", user_key="u"), PROJECT_ENDPOINTS),
        (lambda: OpenClient("a", "s"), OPEN_ENDPOINTS),
    ],
)
def test_each_descriptor_resolves_to_a_method(client, expected) -> None:  # type: ignore[no-untyped-def]
    c = client()
    assert c.endpoints == expected
    for e in c.endpoints:
        method = getattr(getattr(c, e.group), e.name)
        assert callable(method)
        assert e.path in (method.__doc__ or "") and e.doc in (method.__doc__ or "")
        assert e.request_type.__name__ == e.request_type_name
        assert e.response_type.__name__ == e.response_type_name
