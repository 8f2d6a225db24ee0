"""Exact decoding (_exact): known blocks decode straight to structs; anything else stays whole."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiofeishu._base import OpenObject, dec_hook, response_decoder
from aiofeishu._exact import exact_decoder
from aiofeishu.open import blocks as ob
from aiofeishu.open import endpoints as oe
from aiofeishu.open import models as om
from aiofeishu.project import blocks as pb

EXAMPLES = Path(__file__).parents[1] / "specs/examples/open-platform"
RECORD = oe.OKR_GET_PROGRESS_RECORD.response_type


def doc_example() -> dict[str, Any]:
    text = (EXAMPLES / "okr-progress-record-get.json").read_text()
    return json.loads(text)["examples"][0]["json"]  # type: ignore[no-any-return]


def styled_record() -> dict[str, Any]:
    """Every member of the known element kinds and styles, null values among them."""
    color = {"red": 51, "green": 102, "blue": 255, "alpha": 0.5}
    style = {"bold": True, "strikeThrough": False, "textColor": color, "backColor": None}
    elements = [
        {"type": "textRun", "textRun": {"text": "1.1 接口联调完成", "style": style}},
        {"type": "docsLink", "docsLink": {"url": "https://d.test/x", "title": "设计"}},
        {"type": "person", "person": {"openId": "ou_1", "userId": "7012"}},
    ]
    blocks = [
        {
            "type": "paragraph",
            "paragraph": {
                "style": {"list": {"type": "number", "indentLevel": 1, "number": 1}},
                "elements": elements,
            },
        },
        {
            "type": "gallery",
            "gallery": {"imageList": [{"fileToken": "t", "src": "s", "width": 1.5}]},
        },
        {"type": "paragraph", "paragraph": None},
    ]
    data = {"progress_id": "1", "modify_time": "1", "content": {"blocks": blocks}}
    return {"code": 0, "msg": "success", "data": data}


def lenient(body: bytes) -> Any:
    return msgspec.json.Decoder(RECORD, dec_hook=dec_hook, strict=False).decode(body)


def blocks_of(record: Any) -> list[Any]:
    return list(record.data.content.blocks)


@pytest.mark.parametrize("body", [doc_example(), styled_record()], ids=["doc", "styled"])
def test_known_blocks_decode_to_structs_that_agree_with_the_lossless_decode(
    body: dict[str, Any],
) -> None:
    wire = msgspec.json.encode(body)
    exact, whole = response_decoder(RECORD).decode(wire), lenient(wire)

    assert all(not isinstance(block, dict) for block in blocks_of(exact))  # the exact path
    assert all(isinstance(block, dict) for block in blocks_of(whole))
    assert msgspec.to_builtins(exact) == msgspec.to_builtins(whole)
    assert msgspec.to_builtins(exact.data) == body["data"]
    assert exact == whole and whole == exact and exact.data == whole.data
    for fast, slow in zip(blocks_of(exact), blocks_of(whole), strict=True):
        assert fast.raw == slow.raw == slow
        assert fast.paragraph == slow.paragraph and fast.gallery == slow.gallery
        if fast.paragraph:
            pairs = zip(fast.paragraph.elements, slow.paragraph.elements, strict=True)
            for element, whole_element in pairs:
                assert not isinstance(element, dict) and element.is_known
                for name in ("text_run", "docs_link", "person"):
                    assert getattr(element, name) == getattr(whole_element, name)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        node: Any = body["data"]["content"]["blocks"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


ELEMENT = (0, "paragraph", "elements", 0)
LOSSY = {
    "unknown style member": _set((*ELEMENT, "textRun", "style", "fontSize"), 14),
    "unknown list member": _set((0, "paragraph", "style", "list", "start"), 3),
    "unknown element kind": _set((0, "paragraph", "elements", 1), {"type": "eq", "eq": {"x": 1}}),
    "unknown block kind": _set((1,), {"type": "codeBlock", "codeBlock": {"code": "print(1)"}}),
    "block without a type": _set((2,), {"paragraph": None}),
    "null type": _set((2, "type"), None),
    "number as a string": _set((*ELEMENT, "textRun", "style", "textColor", "red"), "51"),
    "float for an int": _set((*ELEMENT, "textRun", "style", "textColor", "red"), 1.5),
    "malformed known block": _set((0, "paragraph"), "not an object"),
}


@pytest.mark.parametrize("mutate", LOSSY.values(), ids=LOSSY.keys())
def test_a_body_the_exact_form_would_change_is_decoded_whole(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    body = styled_record()
    mutate(body)

    record = response_decoder(RECORD).decode(msgspec.json.encode(body))

    assert all(isinstance(block, dict) for block in blocks_of(record))  # the lossless path
    assert msgspec.to_builtins(record.data) == body["data"]
    assert json.loads(msgspec.json.encode(record))["data"] == body["data"]


def test_members_unknown_outside_blocks_keep_the_exact_path() -> None:
    body = styled_record()
    body["data"]["new_member"] = {"x": 1}  # ignored, as on every response model
    record = response_decoder(RECORD).decode(msgspec.json.encode(body))
    assert not isinstance(blocks_of(record)[0], dict)
    assert record.raw_json() is None  # the client stores the body; the decoder alone does not


def test_a_block_kind_this_sdk_does_not_know_but_without_members_stays_exact() -> None:
    body = styled_record()
    body["data"]["content"]["blocks"].append({"type": "divider"})
    block = blocks_of(response_decoder(RECORD).decode(msgspec.json.encode(body)))[-1]
    assert not isinstance(block, dict)
    assert block.type == "divider" and block.is_known is False and block.raw == {"type": "divider"}


def test_an_exact_block_reads_like_its_open_block() -> None:
    wire = msgspec.json.encode(styled_record())
    fast, slow = blocks_of(response_decoder(RECORD).decode(wire))[0], blocks_of(lenient(wire))[0]
    element = fast.paragraph.elements[0]

    assert isinstance(fast, ob.ContentBlockElement) and isinstance(fast, OpenObject)
    assert isinstance(element, ob.ContentParagraphElement)
    assert not isinstance(element, ob.ContentBlockElement)
    assert not isinstance(fast, pb.RichTextBlock)
    assert repr(fast) == repr(slow) == "ContentBlockElement(type='paragraph', known=True)"
    assert (fast.type, fast.is_known) == (slow.type, slow.is_known) == ("paragraph", True)
    assert fast == slow and fast == dict(slow) and dict(fast) == slow
    assert fast["type"] == "paragraph" and fast.get("gallery") is None
    assert "paragraph" in fast and len(fast) == len(slow) and list(fast) == list(fast.keys())
    assert sorted(fast.items()) == sorted(slow.items())


def test_exact_results_pickle_and_copy_as_their_models() -> None:
    record = response_decoder(RECORD).decode(msgspec.json.encode(styled_record()))

    for clone in (pickle.loads(pickle.dumps(record.data)), copy.deepcopy(record.data)):
        assert type(clone) is om.ProgressRecord
        assert type(clone.content.blocks[0]) is ob.ContentBlockElement  # the open block
        assert clone == record.data and record.data == clone
    block = pickle.loads(pickle.dumps(blocks_of(record)[0]))
    assert type(block) is ob.ContentBlockElement and block == blocks_of(record)[0]
    element = pickle.loads(pickle.dumps(blocks_of(record)[0].paragraph.elements[0]))
    assert element.text_run.text == "1.1 接口联调完成"


def test_exact_models_are_subclasses_of_their_models_and_stay_out_of_the_collector() -> None:
    import gc

    record = response_decoder(RECORD).decode(msgspec.json.encode(styled_record()))
    paragraph = blocks_of(record)[0].paragraph
    assert isinstance(record, RECORD) and isinstance(record.data, om.ProgressRecord)
    assert isinstance(paragraph, om.ContentParagraph)
    style = paragraph.elements[0].text_run.style
    assert isinstance(style, om.ContentTextStyle) and style.text_color.red == 51
    assert style.back_color is None and style.strike_through is False
    assert not gc.is_tracked(record.data) and not gc.is_tracked(paragraph)


def test_open_blocks_that_nest_themselves_have_no_exact_form() -> None:
    # Project rich text holds tables whose cells hold rich text: such a tree is decoded whole.
    assert exact_decoder(list[pb.RichTextBlock]) is None
    assert exact_decoder(om.ProgressRate) is None  # nothing open: the model's own decoder


def test_exact_results_differ_from_nothing_they_equal() -> None:
    wire = msgspec.json.encode(styled_record())
    exact, whole = response_decoder(RECORD).decode(wire), lenient(wire)
    block = blocks_of(exact)[0]
    # `!=` is asked for on purpose: it must not fall back to identity.
    assert (exact != whole, whole != exact, exact.data != whole.data) == (False, False, False)
    whole_block = blocks_of(whole)[0]
    assert (block != whole_block, block != dict(whole_block)) == (False, False)
    other = styled_record()
    other["data"]["content"]["blocks"][0]["paragraph"]["elements"][0]["textRun"]["text"] = "x"
    changed = response_decoder(RECORD).decode(msgspec.json.encode(other))
    assert changed != exact and exact != changed and blocks_of(changed)[0] != block
    assert (changed == exact, blocks_of(changed)[0] == block) == (False, False)


@pytest.mark.parametrize("width", [1920, 0, 2**53 + 1, 1.5])
def test_a_wire_integer_in_a_float_member_stays_an_integer(width: int | float) -> None:
    body = styled_record()
    body["data"]["content"]["blocks"][1]["gallery"]["imageList"][0]["width"] = width
    record = response_decoder(RECORD).decode(msgspec.json.encode(body))
    gallery = blocks_of(record)[1]
    assert not isinstance(gallery, dict)  # still the exact path
    image = gallery.gallery.image_list[0]
    assert image.width == width and type(image.width) is type(width)
    assert msgspec.to_builtins(record.data) == body["data"]
    encoded = json.loads(msgspec.json.encode(record.data))
    assert encoded == body["data"]
    assert type(encoded["content"]["blocks"][1]["gallery"]["imageList"][0]["width"]) is type(width)


def test_an_exact_block_is_a_read_only_mapping_of_its_wire_members() -> None:
    from collections.abc import Mapping

    block = blocks_of(response_decoder(RECORD).decode(msgspec.json.encode(styled_record())))[0]
    assert isinstance(block, Mapping) and not isinstance(block, dict)
    assert issubclass(type(block), ob.ContentBlockElement)
    assert not issubclass(type(block), pb.RichTextBlock)
    match block:
        case {"type": "paragraph", "paragraph": {"elements": [first, *_]}}:
            assert first["textRun"]["text"] == "1.1 接口联调完成"
        case _:
            pytest.fail("a mapping pattern does not match an exact block")
    element = block.paragraph.elements[0]
    assert element["textRun"]["style"]["textColor"] == {
        "red": 51,
        "green": 102,
        "blue": 255,
        "alpha": 0.5,
    }
    with pytest.raises(KeyError):
        element["docsLink"]  # a member the block does not have
    assert element.get("docsLink", "absent") == "absent" and element.get("nope") is None
    assert list(reversed(block)) == list(reversed(list(block)))


def test_threads_decoding_first_at_once_share_one_set_of_classes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from aiofeishu import _exact

    monkeypatch.setattr(_exact, "_forms", {})
    start = threading.Barrier(4)
    decoders: list[Any] = []

    def first_decode() -> None:
        start.wait()
        decoders.append(exact_decoder(RECORD))

    threads = [threading.Thread(target=first_decode) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wire = msgspec.json.encode(styled_record())
    kinds = {type(decoder.decode(wire).data.content.blocks[0]) for decoder in decoders}
    assert len(kinds) == 1
