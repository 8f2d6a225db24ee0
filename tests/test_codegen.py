"""The generator refuses broken specs with the file and the place, and its output is deterministic."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegen.emit import generate
from codegen.spec import SpecError, load

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.fixture
def specs_copy(tmp_path: Path) -> Path:
    target = tmp_path / "specs"
    shutil.copytree(SPECS, target, ignore=shutil.ignore_patterns("examples"))
    return target


def break_file(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("rel", "old", "new", "expected"),
    [
        (
            "project/comments.yaml",
            "    writes: true",
            "    writes: true\n    wirtes: true",
            "project/comments.yaml: endpoints.create: unknown key(s) ['wirtes']",
        ),
        (
            "project/comments.yaml",
            "type: integer, format: int64, required: true}",
            "type: int, format: int64, required: true}",
            "project/comments.yaml: endpoints.create.params.work_item_id.type",
        ),
        (
            "project/work_items.yaml",
            "ref: TimeInterval",
            "ref: TimeIntervall",
            "dangling reference 'TimeIntervall'",
        ),
        (
            "project/schemas/common.yaml",
            "page_num: {type: integer",
            "page_num: {type: integer, pattern: '^x'",
            "project/schemas/common.yaml: schemas.Pagination.properties.page_num",
        ),
        (
            "project/comments.yaml",
            "errors: [10211, 30001, 50001, 1000051280]",
            "errors: [10211, 123]",
            "code 123 is missing from errors.yaml",
        ),
        (
            "project/work_items.yaml",
            "page_param: page_num",
            "page_param: page_number",
            "'page_number' is not a parameter",
        ),
        (
            "project/schemas/search.yaml",
            'created_at: ["=", "!=", "<", ">", "<=", ">="]',
            'created_at: ["=", "LIKE"]',
            "schemas.SearchParam.properties.value.variants_by.restricts.values.created_at",
        ),
        (
            "project/schemas/search.yaml",
            "member: operator",
            "member: param_key",
            "'param_key' is not a sibling enum member",
        ),
        (
            "project/users.yaml",
            'doc: "vendor-sdk: Go ListProjectTeamReq.offset"',
            'doc: "the Go SDK"',
            "project/users.yaml: endpoints.list_teams.params.offset.doc",
        ),
        (
            "project/config.yaml",
            '      - field: request.template_id\n        reason: "Page 52',
            '      - field: template_id\n        reason: "Page 52',
            "endpoints.get_template.vendor_differences[0]",
        ),
        (
            "project/schemas/user.yaml",
            "      - field: name\n",
            "      - field: name\n        why: unexplained\n",
            "schemas.UserDetail.vendor_differences[0]: needs exactly a non-empty `field` and `reason`",
        ),
        (
            "project/schemas/config.yaml",
            "also_accepts: [{type: number}]",
            "also_accepts: [{type: decimal}]",
            "schemas.Business.properties.order.also_accepts[0].type",
        ),
        (
            "project/users.yaml",
            "      offset_param: offset",
            "      offset_param: start",
            "'start' is not a parameter",
        ),
    ],
)
def test_broken_specs_name_file_and_place(
    specs_copy: Path, rel: str, old: str, new: str, expected: str
) -> None:
    break_file(specs_copy, rel, old, new)
    with pytest.raises(SpecError) as info:
        load(specs_copy)
    assert expected in str(info.value)


def test_a_path_parameter_must_match_the_path(specs_copy: Path) -> None:
    break_file(specs_copy, "project/comments.yaml", "comment/create", "comment/:comment_id/create")
    with pytest.raises(SpecError, match="differ from the path's"):
        load(specs_copy)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    specs = load(SPECS)
    first = generate(specs, tmp_path)
    second = generate(load(SPECS), tmp_path)
    assert first == second


def test_every_listed_endpoint_needs_a_spec(specs_copy: Path) -> None:
    tsv = specs_copy / "endpoints.tsv"
    tsv.write_text(
        tsv.read_text(encoding="utf-8") + "project\tGET\t/open_api/new/thing\tpage 99\tnew\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"missing \[\('project', 'GET', '/open_api/new/thing'\)\]"):
        load(specs_copy)
