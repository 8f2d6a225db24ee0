"""The doc-example fixtures in specs/examples (written by codegen.extract_examples)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # codegen/ is not an installed package
    sys.path.insert(0, str(REPO))

from codegen.extract_examples import (  # noqa: E402
    SECTIONS,
    extract_page,
    fixture_path,
    iter_pages,
    parse_tolerant,
)

EXAMPLES = REPO / "specs" / "examples"
DOCS = REPO.parent / "shared" / "docs"
KINDS = {"request", "response", "error_response", "structure"}


def _fixtures() -> list[Path]:
    return sorted(p for s in SECTIONS for p in (EXAMPLES / s).glob("*.json"))


def _counts() -> dict[str, dict[str, int]]:
    with (EXAMPLES / "COUNTS.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {r["page"]: {k: int(r[k]) for k in ("blocks", "examples", "skipped")} for r in rows}


def test_fixtures_exist() -> None:
    assert len(_fixtures()) > 50


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_is_well_formed(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"page", "blocks", "examples", "skipped"}
    assert fixture_path(EXAMPLES, data["page"]) == path
    assert data["blocks"] > 0
    indexes = [e["index"] for e in data["examples"]] + [s["index"] for s in data["skipped"]]
    # every block is accounted for exactly once
    assert sorted(indexes) == list(range(data["blocks"]))
    for ex in data["examples"]:
        assert ex["kind"] in KINDS
        assert "json" in ex
        assert isinstance(ex["json"], dict | list)
        assert isinstance(ex["fixes"], list)
    for sk in data["skipped"]:
        assert sk["reason"].strip()
    # stored exactly as the extractor writes it (deterministic formatting)
    assert path.read_text(encoding="utf-8") == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def test_counts_match_fixtures() -> None:
    counts = _counts()
    fixture_pages = set()
    for path in _fixtures():
        data = json.loads(path.read_text(encoding="utf-8"))
        fixture_pages.add(data["page"])
        assert counts[data["page"]] == {
            "blocks": data["blocks"],
            "examples": len(data["examples"]),
            "skipped": len(data["skipped"]),
        }, data["page"]
    for page, c in counts.items():
        assert c["blocks"] == c["examples"] + c["skipped"], page
        # a page with code blocks has a fixture; a page without has none
        assert (page in fixture_pages) == (c["blocks"] > 0), page


def test_corrections_are_recorded() -> None:
    corrections = yaml.safe_load((EXAMPLES / "corrections.yaml").read_text(encoding="utf-8"))
    for c in corrections:
        assert str(c["reason"]).strip()
        data = json.loads(fixture_path(EXAMPLES, c["page"]).read_text(encoding="utf-8"))
        if c.get("skip"):
            (entry,) = [s for s in data["skipped"] if s["index"] == c["index"]]
            assert c["reason"] in entry["reason"]
        else:
            (entry,) = [e for e in data["examples"] if e["index"] == c["index"]]
            assert entry["corrected"] == c["reason"]


def test_parse_tolerant_repairs() -> None:
    value, fixes = parse_tolerant(
        '{\n"url": "https://x//y", // c\n"id": 301228xxxx,\n"ids": [xxx,],\n"a": 1\n"b": 2\n}'
    )
    assert value == {"url": "https://x//y", "id": 3012280000, "ids": [0], "a": 1, "b": 2}
    assert fixes == [
        "comments",
        "trailing_commas",
        "numeric_placeholders",
        "value_placeholders",
        "missing_commas",
    ]
    # strings are never changed, clean JSON needs no fix
    assert parse_tolerant('{"k": "12xxxx // no"}') == ({"k": "12xxxx // no"}, [])
    # a comment inside a one-line block ends where JSON resumes
    value, _ = parse_tolerant('{ "a": 1, // note "b": [ "x"//c "y" ] }', inline=True)
    assert value == {"a": 1, "b": ["x", "y"]}


def _doc_pages() -> list[tuple[str, Path]]:
    return iter_pages(DOCS) if DOCS.is_dir() else []


@pytest.mark.skipif(not DOCS.is_dir(), reason=f"vendor docs not present at {DOCS}")
@pytest.mark.parametrize("page,path", _doc_pages(), ids=[p for p, _ in _doc_pages()])
def test_fixture_matches_docs(page: str, path: Path) -> None:
    result = extract_page(path.read_text(encoding="utf-8"), page)
    target = fixture_path(EXAMPLES, page)
    if result["blocks"] == 0:
        assert not target.exists()
        return
    assert target.exists(), f"{page} has code blocks but no fixture; run codegen.extract_examples"
    assert json.loads(target.read_text(encoding="utf-8")) == result, (
        f"{target} is stale; run codegen.extract_examples"
    )
    assert _counts()[page] == {
        "blocks": result["blocks"],
        "examples": len(result["examples"]),
        "skipped": len(result["skipped"]),
    }


def test_docs_pages_all_counted() -> None:
    if not DOCS.is_dir():
        pytest.skip(f"vendor docs not present at {DOCS}")
    assert {p for p, _ in iter_pages(DOCS)} == set(_counts())
