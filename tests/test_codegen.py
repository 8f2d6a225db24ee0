"""The generator refuses broken specs with the file and the key path (types first, then the\ncross-checks); its output is pinned by the golden record (test_codegen_golden.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from codegen.language import LANGUAGE
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
        # Refused by the language's types (codegen/language.py), with the full key path.
        (
            "project/comments.yaml",
            "    writes: true",
            "    writes: true\n    wirtes: true",
            "project/comments.yaml: endpoints.create: unknown key `wirtes` (did you mean `writes`?)"
            "; allowed: auth, doc,",
        ),
        (
            "project/comments.yaml",
            "type: integer, format: int64, required: true}",
            "type: int, format: int64, required: true}",
            "project/comments.yaml: endpoints.create.params.work_item_id.type: "
            "Invalid enum value 'int'; one of string, integer, number,",
        ),
        (
            "project/schemas/common.yaml",
            "page_num: {type: integer",
            "page_num: {descripton: x, type: integer",
            "project/schemas/common.yaml: schemas.Pagination.properties.page_num: "
            "unknown key `descripton` (did you mean `description`?)",
        ),
        (
            "project/work_items.yaml",
            "page_param: page_num",
            "page_parm: page_num",
            "project/work_items.yaml: endpoints.filter.pagination: unknown key `page_parm`"
            " (did you mean `page_param`?)",
        ),
        (
            "project/comments.yaml",
            "  create:\n",
            "  Create:\n",
            "project/comments.yaml: endpoints: key 'Create': Expected `str` matching regex",
        ),
        (
            "project/comments.yaml",
            "    writes: true",
            "    writes: yes please",
            "project/comments.yaml: endpoints.create.writes: Expected `bool`, got `str`",
        ),
        (
            "rate_limits.yaml",
            "windows: [{limit: 15, period: 1}]",
            "windows: [{limit: 0, period: 1}]",
            "rate_limits.yaml: classes.default.windows[0].limit: Expected `int` >= 1",
        ),
        (
            "errors.yaml",
            "kind: bad_request",
            "kind: bad_requets",
            "errors.yaml: project[0].kind: Invalid enum value 'bad_requets'; one of auth,",
        ),
        # Refused by the cross-checks (codegen/spec.py).
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
            "project/schemas/common.yaml: schemas.Pagination.properties.page_num.pattern: "
            "only applies to string, not integer",
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
            "project/work_items.yaml",
            "total: pagination.total",
            "total: paging.total",
            "endpoints.filter.pagination.total: 'paging.total' is not in the response",
        ),
        (
            "project/work_items.yaml",
            "style: page",
            "style: pages",
            "endpoints.filter.pagination.style: must be one of page, cursor",
        ),
        (
            "open/okr.yaml",
            "    rate_limit: okr",
            "    rate_limit: okr\n    user_key: optional",
            "open/okr.yaml: endpoints.create_progress_record.user_key: "
            "open endpoints send no X-USER-KEY",
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
            "schemas.UserDetail.vendor_differences[0]: unknown key `why`",
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


def list_endpoint(root: Path, row: str) -> None:
    tsv = root / "endpoints.tsv"
    tsv.write_text(tsv.read_text(encoding="utf-8") + row + "\n", encoding="utf-8")


def test_every_listed_endpoint_needs_a_spec(specs_copy: Path) -> None:
    list_endpoint(specs_copy, "project\tGET\t/open_api/new/thing\tpage 99\tnew\tdoc page")
    with pytest.raises(SpecError, match=r"missing \[\('project', 'GET', '/open_api/new/thing'\)\]"):
        load(specs_copy)


def test_an_endpoint_list_row_names_its_line(specs_copy: Path) -> None:
    list_endpoint(specs_copy, "projekt\tGET\t/open_api/x\tpage 99\tnew\tdoc page")
    with pytest.raises(SpecError, match=r"endpoints.tsv: line \d+: platform: Invalid enum value"):
        load(specs_copy)


def test_the_language_reference_follows_the_structs() -> None:
    """specs/README.md lists every key of every Struct (`make check-generated` keeps it current)."""
    reference = (SPECS / "README.md").read_text(encoding="utf-8")
    for cls in LANGUAGE:
        for field in msgspec.structs.fields(cls):
            assert f"| `{field.encode_name}` |" in reference, (cls.__name__, field.encode_name)


def test_search_after_pagination_needs_carry(specs_copy: Path) -> None:
    break_file(
        specs_copy,
        "project/search.yaml",
        "carry: [[query.pagination.search_after, pagination.search_after]",
        "carry: [[nope.search_after, pagination.search_after]",
    )
    with pytest.raises(SpecError, match=r"'nope\.search_after' is not a parameter"):
        load(specs_copy)


def test_a_listed_source_must_match_the_spec(specs_copy: Path) -> None:
    tsv = specs_copy / "endpoints.tsv"
    text = tsv.read_text(encoding="utf-8")
    tsv.write_text(text.replace("\tvendor SDK\n", "\tdoc page\n", 1), encoding="utf-8")
    with pytest.raises(SpecError, match="the source column disagrees with the specs"):
        load(specs_copy)
