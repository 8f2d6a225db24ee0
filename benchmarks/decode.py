"""Decode: aiofeishu's response models vs json.loads vs pydantic v2 vs lark-oapi's decoder.

Two bodies: the OKR get-progress-record response with rich text (20 paragraphs x 3 styled
text runs, ~13 KB) and a 200-item work_items.filter page (20 mixed-type fields per item).
"decode" is what a client does with each body; "decode + read" also reads every text run
(text, bold, colour) or every field of every item. aiofeishu decodes rich text of known shape
straight into structs; a record holding anything it does not know (the last row of the OKR
table: one unknown style member in the last text run) is decoded again, losslessly, and typed
block by block on first access.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiofeishu._base import response_decoder  # the very decoder the client uses
from aiofeishu.open import endpoints as open_endpoints
from aiofeishu.project import endpoints as project_endpoints
from benchmarks import _payloads
from benchmarks._report import (
    NOT_INSTALLED,
    Section,
    Target,
    calibrate,
    cli,
    fmt_ratio,
    fmt_time,
    median,
    optional_module,
    seconds_per_call,
)

FULL_RUNS, SMOKE_RUNS = 7, 1
RUN_BUDGET = 0.2  # seconds of back-to-back calls per measurement


# -- the equivalent pydantic v2 models (every documented member, typed, eager) ----------
class _P(BaseModel):
    model_config = ConfigDict(populate_by_name=True)  # unknown members are ignored, as ours


class PColor(_P):
    red: int | None = None
    green: int | None = None
    blue: int | None = None
    alpha: float | None = None


class PLink(_P):
    url: str | None = None


class PTextStyle(_P):
    bold: bool | None = None
    strike_through: bool | None = Field(None, alias="strikeThrough")
    back_color: PColor | None = Field(None, alias="backColor")
    text_color: PColor | None = Field(None, alias="textColor")
    link: PLink | None = None


class PTextRun(_P):
    text: str | None = None
    style: PTextStyle | None = None


class PDocsLink(_P):
    url: str | None = None
    title: str | None = None


class PPerson(_P):
    open_id: str | None = Field(None, alias="openId")
    user_id: str | None = Field(None, alias="userId")


class PParagraphElement(_P):
    type: str | None = None
    text_run: PTextRun | None = Field(None, alias="textRun")
    docs_link: PDocsLink | None = Field(None, alias="docsLink")
    person: PPerson | None = None


class PList(_P):
    type: str | None = None
    indent_level: int | None = Field(None, alias="indentLevel")
    number: int | None = None


class PParagraphStyle(_P):
    list: PList | None = None


class PParagraph(_P):
    style: PParagraphStyle | None = None
    elements: list[PParagraphElement] | None = None


class PImageItem(_P):
    file_token: str | None = Field(None, alias="fileToken")
    src: str | None = None
    width: float | None = None
    height: float | None = None


class PGallery(_P):
    image_list: list[PImageItem] | None = Field(None, alias="imageList")


class PBlock(_P):
    type: str | None = None
    paragraph: PParagraph | None = None
    gallery: PGallery | None = None


class PContent(_P):
    blocks: list[PBlock] | None = None


class PProgressRate(_P):
    percent: float | None = None
    status: int | None = None


class PProgressRecord(_P):
    progress_id: str | None = None
    modify_time: str | None = None
    content: PContent | None = None
    progress_rate: PProgressRate | None = None


class POkrResponse(_P):
    code: int = 0
    msg: str | None = None
    data: PProgressRecord | None = None


class PFieldValuePair(_P):
    field_key: str | None = None
    field_alias: str | None = None
    field_type_key: str | None = None
    field_value: Any = None


class PNode(_P):
    id: str | None = None
    name: str | None = None
    owners: list[str] | None = None
    milestone: bool | None = None


class PStateTime(_P):
    state_key: str | None = None
    name: str | None = None
    start_time: int | None = None
    end_time: int | None = None


class PStatus(_P):
    state_key: str | None = None
    is_archived_state: bool | None = None
    is_init_state: bool | None = None
    updated_at: int | None = None
    updated_by: str | None = None
    history: list[PStatus] | None = None


class PWorkItem(_P):
    id: int | None = None
    name: str | None = None
    work_item_type_key: str | None = None
    project_key: str | None = None
    simple_name: str | None = None
    template_type: str | None = None
    template_id: int | None = None
    template: str | None = None
    pattern: str | None = None
    sub_stage: str | None = None
    work_item_status: PStatus | None = None
    current_nodes: list[PNode] | None = None
    state_times: list[PStateTime] | None = None
    created_by: str | None = None
    updated_by: str | None = None
    deleted_by: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    deleted_at: int | None = None
    fields: list[PFieldValuePair] | None = None


class PPagination(_P):
    page_num: int | None = None
    page_size: int | None = None
    total: int | None = None
    has_more: bool | None = None


class PFilterResponse(_P):
    err_code: int = 0
    err_msg: str | None = None
    err: dict[str, Any] | None = None
    data: list[PWorkItem] | None = None
    pagination: PPagination | None = None


# -- reading everything back (the same checksum whatever the decoder) -------------------
def read_okr_dict(body: dict[str, Any]) -> int:
    total = 0
    for block in body["data"]["content"]["blocks"]:
        for element in block["paragraph"]["elements"]:
            run = element["textRun"]
            total += len(run["text"]) + run["style"]["bold"] + run["style"]["textColor"]["red"]
    return total


def read_okr_objects(response: Any) -> int:
    """aiofeishu, pydantic and lark-oapi all expose the same snake_case attribute names."""
    total = 0
    for block in response.data.content.blocks:
        for element in block.paragraph.elements:
            run = element.text_run
            total += len(run.text) + run.style.bold + run.style.text_color.red
    return total


def read_items_dict(body: dict[str, Any]) -> int:
    total = 0
    for item in body["data"]:
        total += item["id"] + len(item["name"])
        for pair in item["fields"]:
            total += len(pair["field_key"]) + (pair["field_value"] is not None)
    return total


def read_items_objects(response: Any) -> int:
    total = 0
    for item in response.data:
        total += item.id + len(item.name)
        for pair in item.fields:
            total += len(pair.field_key) + (pair.field_value is not None)
    return total


@dataclass
class Contender:
    name: str
    decode: Callable[[], Any] | None  # None: not installed or not applicable
    read: Callable[[Any], int]
    missing: str = ""


LOSSLESS = "aiofeishu, lossless path"


def _with_unknown_style_member(record: dict[str, Any]) -> dict[str, Any]:
    last_run = record["data"]["content"]["blocks"][-1]["paragraph"]["elements"][-1]["textRun"]
    last_run["style"]["fontSize"] = 14
    return record


def okr_contenders() -> tuple[list[Contender], list[str]]:
    body = _payloads.encode(_payloads.okr_progress_record())
    notes = [
        f"OKR body: {len(body) / 1024:.1f} KB (doc-shaped, camelCase keys as on the doc page)."
    ]
    ours = response_decoder(open_endpoints.OKR_GET_PROGRESS_RECORD.response_type)
    unknown = _payloads.encode(_with_unknown_style_member(_payloads.okr_progress_record()))
    lossless = Contender(LOSSLESS, lambda: ours.decode(unknown), read_okr_objects)
    contenders = [
        Contender("json.loads", lambda: json.loads(body), read_okr_dict),
        Contender("aiofeishu", lambda: ours.decode(body), read_okr_objects),
        Contender("pydantic v2", lambda: POkrResponse.model_validate_json(body), read_okr_objects),
    ]
    notes.append(
        f"{LOSSLESS}: the same record with one style member this SDK does not know in its last "
        f"text run ({len(unknown) - len(body)} bytes more): the exact decode fails at the end, "
        "the record is decoded again keeping every block whole, and blocks are typed on read."
    )
    lark_json = optional_module("lark_oapi.core.json")
    if lark_json is None:
        contenders += [Contender("lark-oapi", None, read_okr_objects, NOT_INSTALLED), lossless]
        return contenders, notes
    from lark_oapi.api.okr.v1 import GetProgressRecordResponse

    def lark_decode(raw: bytes) -> Any:
        # What ProgressRecord.aget does with resp.content.
        return lark_json.JSON.unmarshal(str(raw, "utf-8"), GetProgressRecordResponse)

    # lark-oapi's models name the rich-text members in snake_case (text_run, text_color) and skip
    # keys they do not know, so the doc-shaped body decodes with every text run missing. Timing
    # that would flatter it; it decodes the same content with snake_case keys instead.
    dropped = lark_decode(body).data.content.blocks[0].paragraph.elements[0].text_run is None
    snake = _payloads.encode(_payloads.snake_keys(_payloads.okr_progress_record()))
    contenders.append(Contender("lark-oapi", lambda: lark_decode(snake), read_okr_objects))
    contenders.append(lossless)
    notes.append(
        "lark-oapi decodes the same record with snake_case keys "
        f"({len(snake) / 1024:.1f} KB): on the doc-shaped body its models "
        + (
            "silently drop every text run (element.text_run is None)."
            if dropped
            else "read the text runs too."
        )
    )
    return contenders, notes


def work_item_contenders(smoke: bool) -> tuple[list[Contender], list[str]]:
    size = 20 if smoke else 200
    body = _payloads.encode(_payloads.work_item_filter_page(size))
    ours = response_decoder(project_endpoints.WORK_ITEMS_FILTER.response_type)
    notes = [
        f"work_items.filter page: {size} items x {_payloads.FIELDS_PER_ITEM} fields, "
        f"{len(body) / 1024:.0f} KB."
    ]
    return [
        Contender("json.loads", lambda: json.loads(body), read_items_dict),
        Contender("aiofeishu", lambda: ours.decode(body), read_items_objects),
        Contender(
            "pydantic v2", lambda: PFilterResponse.model_validate_json(body), read_items_objects
        ),
        Contender("lark-oapi", None, read_items_objects, "n/a (no Feishu Project API)"),
    ], notes


def measure(
    title: str, contenders: list[Contender], runs: int, smoke: bool
) -> dict[str, tuple[float, float]]:
    """Median seconds per call of each contender: (decode, decode + read)."""
    expected = None
    jobs: dict[tuple[str, str], Callable[[], object]] = {}
    for c in contenders:
        if c.decode is None:
            continue
        checksum = c.read(c.decode())
        if expected is None:
            expected = checksum
        elif checksum != expected:  # a decoder that skips content must not look fast
            raise AssertionError(f"{title}: {c.name} read back {checksum}, expected {expected}")
        decode, read = c.decode, c.read
        jobs[(c.name, "decode")] = decode
        jobs[(c.name, "read")] = lambda decode=decode, read=read: read(decode())
    numbers = {key: 3 if smoke else calibrate(fn, RUN_BUDGET) for key, fn in jobs.items()}
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in jobs}
    for run in range(runs):
        for key, fn in jobs.items():  # interleaved, so drift hits every contender alike
            samples[key].append(seconds_per_call(fn, numbers[key]))
        figures = ", ".join(
            f"{name} {kind} {fmt_time(s[-1])}" for (name, kind), s in samples.items()
        )
        print(f"  {title} run {run + 1}/{runs}: {figures}", flush=True)
    results: dict[str, tuple[float, float]] = {}
    for c in contenders:
        if c.decode is not None:
            results[c.name] = (
                median(samples[(c.name, "decode")]),
                median(samples[(c.name, "read")]),
            )
    return results


def table_rows(
    title: str, contenders: list[Contender], results: dict[str, tuple[float, float]]
) -> list[list[str]]:
    base = results["json.loads"]
    lark = results.get("lark-oapi")
    rows = []
    for c in contenders:
        if c.name not in results:
            rows.append([title, c.name, c.missing, "", "", c.missing, "", ""])
            continue
        decode, read = results[c.name]
        rows.append(
            [
                title,
                c.name,
                fmt_time(decode),
                fmt_ratio(decode / base[0]),
                fmt_ratio(lark[0] / decode) if lark else "",
                fmt_time(read),
                fmt_ratio(read / base[1]),
                fmt_ratio(lark[1] / read) if lark else "",
            ]
        )
    return rows


def ratio_target(
    claim: str, numerator: float | None, denominator: float | None, threshold: float, higher: bool
) -> Target:
    if numerator is None or denominator is None:
        return Target(claim, None, threshold, higher, NOT_INSTALLED)
    ratio = numerator / denominator
    return Target(claim, ratio, threshold, higher, fmt_ratio(ratio))


def run(smoke: bool) -> Section:
    runs = SMOKE_RUNS if smoke else FULL_RUNS
    okr, okr_notes = okr_contenders()
    items, item_notes = work_item_contenders(smoke)
    # Collections still run, but skip the objects of every library loaded for the comparison
    # (lark-oapi alone is ~160 MB of them): each decoder pays for its own garbage only.
    gc.collect()
    gc.freeze()
    okr_results = measure("OKR record", okr, runs, smoke)
    item_results = measure("filter page", items, runs, smoke)
    ours_okr, lark_okr = okr_results["aiofeishu"], okr_results.get("lark-oapi")
    ours_items = item_results["aiofeishu"]
    return Section(
        name="decode",
        title="1. Decode",
        setup=[
            f"Median of {runs} runs, each "
            + ("3 decodes (smoke)" if smoke else f"about {RUN_BUDGET:g} s of back-to-back decodes")
            + " (garbage collector on, import-time objects frozen with `gc.freeze()`), "
            "all contenders interleaved in one process.",
            "aiofeishu: the msgspec decoder the client builds for the endpoint's response model; "
            "pydantic v2: equivalent BaseModels, `model_validate_json`; lark-oapi: "
            "`JSON.unmarshal(str(body), GetProgressRecordResponse)` as its `aget` does.",
            "decode + read: also read every text run's text, bold and colour (OKR) or every "
            "item's id, name and 20 field pairs (filter page); each contender must read back "
            "the same checksum.",
            *okr_notes,
            *item_notes,
        ],
        columns=[
            "body",
            "decoder",
            "decode",
            "÷ json.loads",
            "lark-oapi ÷ this",
            "decode + read",
            "÷ json.loads",
            "lark-oapi ÷ this",
        ],
        rows=table_rows("OKR record", okr, okr_results)
        + table_rows("filter page", items, item_results),
        targets=[
            ratio_target(
                "OKR decode: aiofeishu ≥ 10× faster than lark-oapi",
                lark_okr[0] if lark_okr else None,
                ours_okr[0],
                10.0,
                True,
            ),
            ratio_target(
                "OKR decode + read (stricter reading): aiofeishu ≥ 10× faster than lark-oapi",
                lark_okr[1] if lark_okr else None,
                ours_okr[1],
                10.0,
                True,
            ),
            ratio_target(
                "OKR decode: aiofeishu time ÷ json.loads ≤ 1",
                ours_okr[0],
                okr_results["json.loads"][0],
                1.0,
                False,
            ),
            ratio_target(
                "OKR decode + read: aiofeishu time ÷ (json.loads + the same reading) ≤ 1",
                ours_okr[1],
                okr_results["json.loads"][1],
                1.0,
                False,
            ),
            ratio_target(
                "OKR decode, a record with a member this SDK does not know: ÷ json.loads ≤ 1",
                okr_results[LOSSLESS][0],
                okr_results["json.loads"][0],
                1.0,
                False,
            ),
            ratio_target(
                "filter page decode: aiofeishu time ÷ json.loads ≤ 1",
                ours_items[0],
                item_results["json.loads"][0],
                1.0,
                False,
            ),
        ],
    )


if __name__ == "__main__":
    cli(run, __doc__ or "")
