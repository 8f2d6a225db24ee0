"""The per-endpoint plan: its quick argument checks agree with full validation everywhere.

The quick path (``_build._prepare_plain``) serves calls whose arguments are plain values;
it must build exactly what full validation builds, and must never accept what full
validation refuses. Checked over every endpoint, each argument spoiled in turn with
values of every plain kind.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from msgspec import inspect as mi

from aiofeishu import FeishuError, RequestOptions
from aiofeishu._build import Prepared, _prepare_checked, _prepare_plain, prepare
from aiofeishu._endpoint import Endpoint
from aiofeishu._plan import plan_of
from tests.endpoint_calls import ALL_ENDPOINTS, baseline, endpoint_id, fields_of, unwrap

CANDIDATES: tuple[Any, ...] = (
    "k1",
    "",
    ".",
    "a/b",
    "x" * 300,
    "open_id",
    0,
    7,
    -1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    True,
    False,
    None,
    1.5,
    float("nan"),
    b"k1",
    [],
    {},
)
NO_OPTIONS = RequestOptions()


def _outcome(plan_args: dict[str, Any], endpoint: Endpoint) -> Prepared | FeishuError:
    try:
        return _prepare_checked(plan_of(endpoint), plan_args, NO_OPTIONS)
    except FeishuError as exc:
        return exc


def _same(a: Prepared, b: Prepared) -> bool:
    return (a.endpoint, a.path, a.query, a.body, a.form, a.files, a.headers) == (
        b.endpoint,
        b.path,
        b.query,
        b.body,
        b.form,
        b.files,
        b.headers,
    )


def _method_args(endpoint: Endpoint) -> dict[str, Any]:
    """What the generated method passes: every argument, UNSET when not given."""
    return {f.name: msgspec.UNSET for f in fields_of(endpoint)} | baseline(endpoint)


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS, ids=endpoint_id)
def test_the_quick_path_builds_what_full_validation_builds(endpoint: Endpoint) -> None:
    plan = plan_of(endpoint)
    base = _method_args(endpoint)
    variants = [base] + [
        {**base, name: value}
        for name in base
        if name not in endpoint.file_params
        for value in CANDIDATES
    ]
    variants += [{k: v for k, v in base.items() if k != name} for name in base]  # one missing
    for args in variants:
        try:
            quick = _prepare_plain(plan, args)
        except FeishuError as exc:  # a path refusal: full validation refuses it alike
            checked = _outcome(args, endpoint)
            assert isinstance(checked, FeishuError) and str(checked) == str(exc), args
            continue
        if quick is None:
            continue
        checked = _outcome(args, endpoint)
        assert isinstance(checked, Prepared), (args, checked)
        assert _same(quick, checked), args


def _plain(info: mi.Type) -> bool:
    info = unwrap(info)
    if isinstance(info, mi.UnionType):
        return all(_plain(t) for t in info.types)
    if isinstance(info, mi.StrType):
        return info.pattern is None
    if isinstance(info, mi.IntType):
        return info.multiple_of is None
    return isinstance(info, (mi.BoolType, mi.NoneType, mi.LiteralType))


def test_calls_with_plain_arguments_take_the_quick_path() -> None:
    # The quick path is the point: every endpoint whose required arguments are all plain
    # scalars builds its baseline call without full validation.
    plain = [
        e
        for e in ALL_ENDPOINTS
        if not e.file_params and all(_plain(f.type) for f in fields_of(e) if f.required)
    ]
    assert len(plain) > 40
    missed = [e.key for e in plain if _prepare_plain(plan_of(e), _method_args(e)) is None]
    assert missed == []


def test_extras_and_files_take_full_validation() -> None:
    from aiofeishu.open import endpoints

    endpoint = endpoints.OKR_GET_PROGRESS_RECORD
    options = RequestOptions(extra_query={"new_flag": "1"})
    prepared = prepare(endpoint, {"progress_id": "p1"}, options)
    assert prepared.query == {"new_flag": "1"}


def test_every_typed_envelope_code_is_an_int_or_none() -> None:
    # The client judges a decoded success by `not result.<code member>`: that holds only
    # while every response model types the member as int | None.
    for endpoint in ALL_ENDPOINTS:
        member = plan_of(endpoint).success_member
        if member is None:
            continue
        info = mi.type_info(endpoint.response_type)
        assert isinstance(info, mi.StructType)
        (field,) = [f for f in info.fields if f.name == member]
        assert isinstance(field.type, mi.UnionType), endpoint.key
        assert {type(t) for t in field.type.types} == {mi.IntType, mi.NoneType}, endpoint.key
