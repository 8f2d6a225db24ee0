"""Extract every JSON example from the vendor doc pages into fixture files.

Usage (from the repo root)::

    .venv/bin/python -m codegen.extract_examples --docs ../shared/docs --out specs/examples

For every page under ``<docs>/feishu-project`` and ``<docs>/open-platform`` that
has at least one code block, one JSON fixture is written to
``<out>/<section>/<page stem>.json``.  Every code block found on a page is
either listed in ``examples`` (parsed JSON) or in ``skipped`` (with a reason),
so nothing is dropped silently.  ``<out>/COUNTS.tsv`` lists per-page counts.

The pages are scraped HTML turned into text, so the examples are not clean:
line-based blocks (``JSON`` / ``复制`` / JSON lines), blocks squeezed into one
table cell (``JSON复制{ ... }``), Markdown fences, bare ``json`` markers and
bare JSON after a ``响应示例`` heading all occur.  JSON is parsed tolerantly,
each repair applied only when the text does not parse yet:

1. ``comments``: ``//`` and ``/* */`` comments (never inside strings).  In a
   block squeezed onto one line a ``//`` comment ends where JSON resumes.
2. ``trailing_commas``: a comma right before ``}`` / ``]``.
3. ``numeric_placeholders``: ``301228xxxx`` -> ``3012280000`` (same count).
4. ``value_placeholders``: a bare ``xxx`` value -> ``0``.
5. ``missing_commas``: a comma between two values / members with none.

Strings are never changed.  Where this is not enough,
``<out>/corrections.yaml`` holds manual textual fixes (or skips), each with a
reason; :func:`extract_page` applies them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORRECTIONS = REPO_ROOT / "specs" / "examples" / "corrections.yaml"
SECTIONS = ("feishu-project", "open-platform")

# Pages that describe data structures / search syntax, not one endpoint call.
REFERENCE_PAGES = {
    "feishu-project/06-格式说明-2.md",
    "feishu-project/07-格式说明-3.md",
    "feishu-project/08-格式说明-4.md",
    "feishu-project/10-格式说明-6.md",
    "feishu-project/61-视图中度量-6.md",
}

LANGS = (
    "JSON",
    "json",
    "Plain Text",
    "Bash",
    "Shell",
    "JavaScript",
    "Java",
    "PowerShell",
    "Python",
    "Go",
    "cURL",
    "curl",
)
_LANG_ALT = "|".join(re.escape(x) for x in sorted(LANGS, key=len, reverse=True))
# A language label on its own line, then (blank lines) a line "复制".
LINE_MARKER_RE = re.compile(rf"^[ \t]*({_LANG_ALT})[ \t]*\n(?:[ \t]*\n)*[ \t]*复制[ \t]*\n", re.M)
# A language label glued to "复制" inside a table cell: "JSON复制{ ... }".
INLINE_MARKER_RE = re.compile(rf"({_LANG_ALT})复制")
FENCE_RE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
# A bare "json" line followed by JSON (open-platform pages without fences).
BARE_JSON_LABEL_RE = re.compile(r"^[ \t]*json[ \t]*\n(?:[ \t]*\n)*(?=[ \t]*[{\[])", re.M)
# A JSON value right after a "...示例" heading, no marker at all.
AFTER_HEADING_RE = re.compile(r"^[^\n|]*示例[ \t]*\n(?:[ \t]*\n)*(?=[ \t]*[{\[][ \t]*\n)", re.M)
CURL_LINE_RE = re.compile(r"^[ \t]*curl\s", re.M)

REQUEST_HEADINGS = {"请求示例", "请求体示例", "cURL 示例", "cURL示例"}
RESPONSE_HEADINGS = {"返回示例", "响应示例", "响应体示例", "响应体参数"}
ERROR_HEADINGS = {"错误返回格式"}
# Lines that end a section (a heading that is neither request nor response).
OTHER_HEADINGS = {"错误码", "请求参数", "返回参数", "上一篇", "下一篇", "请求", "响应", "响应体"}

HTTP_LINE_RE = re.compile(
    r"^\s*(?:请求路径|请求 Path|请求Path|请求示例|Path 示例|Path示例)\s*[：:]\s*(.+?)\s*$"
)
HTTP_REQUEST_LINE_RE = re.compile(r"^\s*(GET|POST|PUT|DELETE|PATCH)\s*/\S*\s*$")
METHOD_PATH_RE = re.compile(r"^(GET|POST|PUT|DELETE|PATCH)?\s*(\S*/\S*)")
LIST_MARKER_RE = re.compile(r"^\s*(?:\d+\.|\*|-|📔|📌|⁗)?\s*$")
NOTE_MARKER_RE = re.compile(r"^\s*(?:\*\s*)?(?:📔|📌|⁗)\s*$")
TAB_NAMES = {*LANGS, "Swift", "Shell", "Python", "Go", "PHP", "C#", "Node.js"}
NUMBERED_MARKER_RE = re.compile(r"^\s*\d+\.\s*$")


class ExtractError(Exception):
    """Raised when a manual correction no longer applies (docs changed)."""


# --------------------------------------------------------------------------
# Tolerant JSON
# --------------------------------------------------------------------------


@dataclass
class Tok:
    kind: str  # str, num (bare word), punct, ws, comment
    text: str


_VALUE_START_AFTER_KEY_RE = re.compile(
    r'\s*:\s*(?:["{\[\-0-9]|true\b|false\b|null\b|x{3,}\b)', re.I
)
_BARE_RE = re.compile(r"[^\s{}\[\]:,\"/]+|/(?!/|\*)")
_STR_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _comment_end_inline(text: str, pos: int) -> int:
    """End of a ``//`` comment in a block squeezed onto one line.

    The comment runs until JSON resumes: a bracket, a key (``"k": value``),
    a string followed by ``,`` / ``}`` / ``]`` / another comment, or the end
    of the line.
    """
    i = pos
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            return i
        if c in "{}[]":
            return i
        if c == "/" and text.startswith("//", i) and i > pos:
            return i
        if c == '"':
            m = _STR_RE.match(text, i)
            if m:
                after = text[m.end() :]
                if _VALUE_START_AFTER_KEY_RE.match(after) or re.match(r"\s*(?:[,}\]]|//)", after):
                    return i
                i = m.end()
                continue
        i += 1
    return n


def tokenize(text: str, inline: bool = False, stop_at_close: bool = False) -> tuple[list[Tok], int]:
    """Tokenize JSON-ish text.

    With ``stop_at_close`` the first bracket opens the value and tokenizing
    stops right after the bracket that closes it; the end offset is returned.
    """
    toks: list[Tok] = []
    i = 0
    n = len(text)
    depth = 0
    while i < n:
        c = text[i]
        if c.isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            toks.append(Tok("ws", text[i:j]))
            i = j
            continue
        if c == '"':
            m = _STR_RE.match(text, i)
            if m is None:  # unterminated string: take the rest of the line
                j = text.find("\n", i)
                j = n if j < 0 else j
                toks.append(Tok("bad", text[i:j]))
                i = j
                continue
            toks.append(Tok("str", m.group()))
            i = m.end()
            continue
        if text.startswith("//", i):
            j = _comment_end_inline(text, i + 2) if inline else text.find("\n", i)
            j = n if j < 0 else j
            toks.append(Tok("comment", text[i:j]))
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            toks.append(Tok("comment", text[i:j]))
            i = j
            continue
        if c in "{}[]:,":
            toks.append(Tok("punct", c))
            i += 1
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if stop_at_close and depth <= 0:
                    return toks, i
            continue
        m = _BARE_RE.match(text, i)
        assert m is not None
        toks.append(Tok("num", m.group()))
        i = m.end()
    return toks, n


def _join(toks: list[Tok]) -> str:
    return "".join(t.text for t in toks)


def _sig(toks: list[Tok]) -> list[int]:
    return [k for k, t in enumerate(toks) if t.kind not in ("ws", "comment")]


def _fix_comments(toks: list[Tok]) -> list[Tok]:
    out = []
    for t in toks:
        if t.kind == "comment":
            out.append(Tok("ws", " "))
        else:
            out.append(t)
    return out


def _fix_trailing_commas(toks: list[Tok]) -> list[Tok]:
    sig = _sig(toks)
    drop = set()
    for a, b in pairwise(sig):
        if toks[a].text == "," and toks[b].text in "}]" and toks[b].kind == "punct":
            drop.add(a)
    return [t for k, t in enumerate(toks) if k not in drop]


_NUM_PLACEHOLDER_RE = re.compile(r"^(-?\d+)(x+|X+|\*+)$")
_VALUE_PLACEHOLDER_RE = re.compile(r"^(?:x{3,}|X{3,})$")


def _fix_numeric_placeholders(toks: list[Tok]) -> list[Tok]:
    out = []
    for t in toks:
        m = _NUM_PLACEHOLDER_RE.match(t.text) if t.kind == "num" else None
        out.append(Tok("num", m.group(1) + "0" * len(m.group(2))) if m else t)
    return out


def _fix_value_placeholders(toks: list[Tok]) -> list[Tok]:
    sig = _sig(toks)
    out = list(toks)
    for pos, k in enumerate(sig):
        t = toks[k]
        if t.kind != "num" or not _VALUE_PLACEHOLDER_RE.match(t.text):
            continue
        prev = toks[sig[pos - 1]].text if pos else ""
        if prev in (":", "[", ","):  # a value position
            out[k] = Tok("num", "0")
    return out


def _is_value_end(t: Tok) -> bool:
    return t.kind in ("str", "num") or (t.kind == "punct" and t.text in "}]")


def _is_value_start(t: Tok) -> bool:
    return t.kind in ("str", "num") or (t.kind == "punct" and t.text in "{[")


def _fix_missing_commas(toks: list[Tok]) -> list[Tok]:
    sig = _sig(toks)
    insert_after = set()
    for a, b in pairwise(sig):
        if _is_value_end(toks[a]) and _is_value_start(toks[b]):
            insert_after.add(a)
    out = []
    for k, t in enumerate(toks):
        out.append(t)
        if k in insert_after:
            out.append(Tok("punct", ","))
    return out


REPAIRS = (
    ("comments", _fix_comments),
    ("trailing_commas", _fix_trailing_commas),
    ("numeric_placeholders", _fix_numeric_placeholders),
    ("value_placeholders", _fix_value_placeholders),
    ("missing_commas", _fix_missing_commas),
)


def parse_tolerant(text: str, inline: bool = False) -> tuple[Any, list[str]]:
    """Parse JSON-ish ``text``; return ``(value, fixes)`` or raise ValueError."""
    try:
        return json.loads(text), []
    except json.JSONDecodeError:
        pass
    toks, _ = tokenize(text, inline=inline)
    fixes: list[str] = []
    err: json.JSONDecodeError | None = None
    for name, fn in REPAIRS:
        new = fn(toks)
        if _join(new) == _join(toks):
            continue
        toks = new
        fixes.append(name)
        try:
            return json.loads(_join(toks)), fixes
        except json.JSONDecodeError as e:
            err = e
    if err is None:
        try:
            json.loads(_join(toks))
        except json.JSONDecodeError as e:
            err = e
    assert err is not None
    s = _join(toks)
    near = s[max(0, err.pos - 25) : err.pos + 25].replace("\n", " ")
    raise ValueError(f"{err.msg} near {near!r}")


# --------------------------------------------------------------------------
# Finding code blocks
# --------------------------------------------------------------------------


@dataclass
class Block:
    start: int  # offset of the marker (orders blocks on the page)
    body_start: int  # offset where the block's content begins
    lang: str
    inline: bool  # squeezed into one table cell / line
    raw: str = ""
    end: int = 0
    json_like: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _json_extent(text: str, pos: int, inline: bool, limit: int) -> int | None:
    """End offset of the bracketed JSON value starting at ``pos`` (not past
    ``limit``), or None when the brackets do not balance."""
    toks, end = tokenize(text[pos:limit], inline=inline, stop_at_close=True)
    depth = 0
    for t in toks:
        if t.kind == "punct" and t.text in "{[":
            depth += 1
        elif t.kind == "punct" and t.text in "}]":
            depth -= 1
    if depth != 0:
        return None
    return pos + end


def _skip_blank(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


_DATA_RE = re.compile(r"--data(?:-raw|-binary)?\s+'")


def _curl_extent(text: str, pos: int, limit: int) -> int:
    """End of a line-based cURL command: continuation lines (ending in a
    backslash, blank lines between them allowed) and a quoted --data body."""
    i = pos
    while i < limit:
        nl = text.find("\n", i)
        nl = limit if nl < 0 or nl > limit else nl
        line = text[i:nl]
        m = _DATA_RE.search(line)
        if m:
            close = text.find("'", i + m.end(), limit)
            if close < 0:
                return nl
            nl2 = text.find("\n", close)
            return limit if nl2 < 0 or nl2 > limit else nl2
        if not line.rstrip().endswith("\\"):
            return nl
        i = _skip_blank(text, nl)
    return limit


def _plain_extent(text: str, pos: int, inline: bool) -> int:
    """End of a non-JSON block: the rest of the line (inline), else the first
    line plus the following lines that look like code (best effort)."""
    nl = text.find("\n", pos)
    first_end = len(text) if nl < 0 else nl
    if inline:
        return first_end
    code = re.compile(r"[{}()\[\];=<>\\\"']")
    return _code_lines_end(text, first_end + 1, len(text), first_end, code.search)


def _code_lines_end(
    text: str, start: int, stop: int, end: int, looks_like_code: Callable[[str], object]
) -> int:
    """End of the last non-blank line of text[start:stop] before the first non-blank line
    that does not look like code (`end` if there is none)."""
    off = start
    for ln in text[start:stop].split("\n"):
        st = ln.strip()
        if st and not looks_like_code(st):
            break
        off += len(ln) + 1
        if st:
            end = off - 1
    return end


def find_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    for m in LINE_MARKER_RE.finditer(text):
        blocks.append(Block(m.start(), m.end(), m.group(1), inline=False))
    for m in INLINE_MARKER_RE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        # "JSON" alone on a line followed by 复制 on the next is handled above
        if text[m.end() : m.end() + 1] in ("\n", ""):
            continue
        blocks.append(Block(m.start(), m.end(), m.group(1), inline=True))
        blocks[-1].extra["line_start"] = line_start
    for m in FENCE_RE.finditer(text):
        blocks.append(Block(m.start(), m.start(2), m.group(1) or "text", inline=False))
        blocks[-1].end = m.end(2)
    for m in BARE_JSON_LABEL_RE.finditer(text):
        blocks.append(Block(m.start(), m.end(), "json", inline=False))
    blocks.sort(key=lambda b: b.start)

    # Compute extents; later markers inside an earlier block are dropped.
    result: list[Block] = []
    covered_until = -1
    for k, b in enumerate(blocks):
        if b.start < covered_until:
            continue
        nxt_marker = next((c.start for c in blocks[k + 1 :] if c.start > b.body_start), len(text))
        _finish_block(text, b, nxt_marker)
        if not b.json_like and not b.raw.lstrip().startswith("curl"):
            # a non-JSON block never swallows the next marker
            nxt = next((c.start for c in blocks[k + 1 :] if c.start > b.body_start), None)
            if nxt is not None and b.end > nxt:
                b.end = nxt
                b.raw = text[b.body_start : b.end].rstrip()
        result.append(b)
        covered_until = b.end
    # Bare blocks with no marker: a JSON value after a "...示例" heading, and
    # cURL commands outside any block.
    extra: list[Block] = []
    for m in AFTER_HEADING_RE.finditer(text):
        extra.append(Block(m.end(), m.end(), "json", inline=False))
    for m in CURL_LINE_RE.finditer(text):
        extra.append(Block(m.start(), m.start(), "Shell", inline=False))
    for b in sorted(extra, key=lambda b: b.start):
        if any(r.start <= b.start < max(r.end, r.body_start + 1) for r in result):
            continue
        _finish_block(text, b, len(text))
        result.append(b)
    result.sort(key=lambda b: b.start)
    return result


def _finish_block(text: str, b: Block, limit: int) -> None:
    pos = b.body_start if b.inline else _skip_blank(text, b.body_start)
    # leading "// comment" lines before the JSON value
    if not b.inline:
        while text.startswith("//", pos):
            nl = text.find("\n", pos)
            if nl < 0:
                break
            pos = _skip_blank(text, nl)
        if text[pos : pos + 1] not in ("{", "["):
            pos = _skip_blank(text, b.body_start)
        # "POST /open_api/..." on the first line, then the JSON body
        nl = text.find("\n", pos)
        m = HTTP_REQUEST_LINE_RE.match(text[pos : nl if nl >= 0 else len(text)])
        if m:
            nxt = _skip_blank(text, nl) if nl >= 0 else len(text)
            if nxt < limit and text[nxt : nxt + 1] in ("{", "["):
                b.extra["http"] = _normalize_http(m.group(0))
                pos = nxt
    if b.inline:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
    if b.end:  # fenced: extent known
        b.raw = text[b.body_start : b.end].strip("\n")
        b.json_like = b.raw.lstrip()[:1] in ("{", "[")
        return
    head = text[pos : pos + 1]
    if head in ("{", "["):
        end = _json_extent(text, pos, b.inline, limit)
        b.json_like = True
        if end is None:  # unbalanced: take up to the end of the line / para
            end = (
                _plain_extent(text, pos, b.inline)
                if b.inline
                else _unbalanced_end(text, pos, limit)
            )
            b.extra["unbalanced"] = True
        b.end = end
    elif text.startswith("curl", pos):
        b.end = _curl_extent(text, pos, limit) if not b.inline else _inline_curl_extent(text, pos)
    else:
        b.end = _plain_extent(text, pos, b.inline)
    b.raw = text[pos : b.end]
    b.body_start = pos


def _inline_curl_extent(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    nl = len(text) if nl < 0 else nl
    m = re.compile(r"--data(?:-raw|-binary)?\s+'").search(text, pos, nl)
    if m:
        close = text.find("'", m.end(), nl)
        if close >= 0:
            return close + 1
    return nl


def _unbalanced_end(text: str, pos: int, limit: int) -> int:
    """For an unbalanced line-based JSON block: stop before the first line that
    does not look like JSON."""
    json_line = re.compile(r'^(?:[{}\[\]",:]|//|-?\d|true|false|null|x{3})')
    return _code_lines_end(text, pos, limit, pos, json_line.match)


# --------------------------------------------------------------------------
# Context: kind, label, http
# --------------------------------------------------------------------------


def _norm_heading(line: str) -> str:
    s = line.strip().strip("#*").strip()
    s = re.sub(r"\*\*", "", s)
    half = len(s) // 2
    if len(s) % 2 == 0 and half and s[:half] == s[half:]:  # "响应示例响应示例"
        s = s[:half]
    return s


def _normalize_http(s: str) -> str | None:
    s = s.strip().strip("`")
    m = METHOD_PATH_RE.match(s)
    if not m:
        return None
    method, path = m.group(1), m.group(2)
    path = re.sub(r"^https?://[^/]+", "", path)
    return f"{method} {path}" if method else path


def _curl_http(raw: str) -> str | None:
    m = re.search(r"curl\b[^\n]*?'(https?://[^']+)'", raw)
    if not m:
        return None
    url = re.sub(r"^https?://[^/]+", "", m.group(1))
    url = url.split("?")[0]
    mm = re.search(r"(?:--request|-X)\s+([A-Z]+)", raw)
    method = mm.group(1) if mm else ("POST" if re.search(r"--data", raw) else "GET")
    return f"{method} {url}"


def _clean_label(s: str) -> str:
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)  # markdown links
    s = re.sub(r"\*\*|`", "", s).strip().strip("#*").strip()
    return s[:80].rstrip()


def _table_cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("|")]


def _inline_label(text: str, b: Block, prev_end: int) -> tuple[str | None, str | None, str | None]:
    """Label, note and http for a block inside a table row."""
    line_start = b.extra["line_start"]
    prefix = text[line_start : b.start]
    cells = _table_cells(prefix)
    col = len(cells) - 1
    # note: the cell text before the JSON, after any previous example there
    note_start = max(line_start + prefix.rfind("|") + 1, prev_end)
    note = _clean_label(text[note_start : b.start]) if note_start < b.start else ""
    # Find the table header (the line before the ---|--- separator) and any
    # 请求方式 / 请求地址 rows of the same table.
    lines_above = text[:line_start].split("\n")[:-1]
    header: list[str] | None = None
    req_addr = None
    req_method = None
    # (multi-line cells put blank lines inside a table, so walk up to the
    # separator line rather than to the first blank line)
    for k in range(len(lines_above) - 1, max(len(lines_above) - 400, 0) - 1, -1):
        ln = lines_above[k]
        cl = _table_cells(ln)
        if cl and cl[0] == "请求地址" and len(cl) > 1:
            req_addr = cl[1]
        if cl and cl[0] == "请求方式" and len(cl) > 1:
            req_method = cl[1]
        if re.match(r"^\s*-{3,}(\s*\|\s*-{3,})+", ln) and k > 0:
            header = _table_cells(lines_above[k - 1])
            if lines_above[k - 1].startswith("请求方式"):
                req_method = header[1] if len(header) > 1 else req_method
            break
    label = None
    http = None
    if req_addr:
        path = re.sub(r"^https?://[^/]+", "", req_addr)
        label = path
        http = f"{req_method} {path}" if req_method else path
    elif header:
        for j, h in enumerate(header[:col]):
            if re.search(r"API|param_key|Plugin name", h) and j < len(cells) and cells[j]:
                label = cells[j]
                break
    if label is None and col >= 1:
        label = cells[col - 1]
    if label:
        m = re.match(r"^([A-Za-z_][\w]*)\s*[（(][^）)]*[）)]$", label)
        if m:
            label = m.group(1)
    return label, (note or None), http


def _context(text: str, b: Block, prev_end: int) -> dict[str, Any]:
    """Section kind, label and http for a line-based block."""
    before = text[: b.start].split("\n")
    # Walk back to the nearest section heading.
    section = None
    heading_idx = None
    for k in range(len(before) - 1, -1, -1):
        h = _norm_heading(before[k])
        first_cell = _table_cells(before[k])[0] if "|" in before[k] else None
        if h in REQUEST_HEADINGS or first_cell in REQUEST_HEADINGS:
            section, heading_idx = "request", k
            break
        if h in RESPONSE_HEADINGS or first_cell in RESPONSE_HEADINGS:
            section, heading_idx = "response", k
            break
        if h in ERROR_HEADINGS:
            section, heading_idx = "error_response", k
            break
        if h in OTHER_HEADINGS:
            break
    prev_line_idx = text[:prev_end].count("\n") if prev_end else -1
    label = None
    http = None
    if heading_idx is not None:
        seg = before[heading_idx + 1 :]
        for ln in seg:
            mm = HTTP_LINE_RE.match(ln)
            if mm:
                http = _normalize_http(mm.group(1))
        if heading_idx > prev_line_idx:
            cands = [
                ln.strip()
                for ln in seg
                if ln.strip()
                and not HTTP_LINE_RE.match(ln)
                and not LIST_MARKER_RE.match(ln)
                and ln.strip() not in TAB_NAMES
            ]
            label = cands[0] if cands else _norm_heading(before[heading_idx])
    if label is None:
        label = _label_before(before, prev_line_idx)
    return {"section": section, "label": _clean_label(label) if label else None, "http": http}


def _label_before(before: list[str], prev_line_idx: int) -> str | None:
    """Nearest prose line before the block (past a numbered list)."""
    k = len(before) - 1
    lo = max(prev_line_idx + 1, 0)
    while k >= lo:
        ln = before[k]
        s = ln.strip()
        if not s or LIST_MARKER_RE.match(s) or s in LANGS or s == "复制":
            k -= 1
            continue
        if re.match(r"^-{3,}(\|-{3,})*", s) or HTTP_LINE_RE.match(s):
            k -= 1
            continue
        j = k - 1
        while j >= lo and not before[j].strip():
            j -= 1
        if j >= lo and NOTE_MARKER_RE.match(before[j]):  # a "📔 note" aside
            k = j - 1
            continue
        # inside a numbered list: climb to the line before item "1."
        j = k - 1
        while j >= lo and not before[j].strip():
            j -= 1
        if j >= lo and NUMBERED_MARKER_RE.match(before[j]):
            k = j - 1
            continue
        return s
    return None


# --------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------


def _skip_reason(b: Block) -> str:
    raw = b.raw.strip()
    first = raw.split("\n", 1)[0].strip() if raw else ""
    lang = b.lang
    if not raw:
        return f"empty {lang} block"
    if re.match(r"^(GET|POST|PUT|DELETE|PATCH)\s*/", first):
        return "not JSON: an HTTP request line"
    if re.match(r"^https?://", first):
        return "not JSON: a URL with an annotation line"
    if first.startswith("curl"):
        return "not JSON: a cURL command without a JSON body"
    if lang == "JavaScript" or re.match(r"^(let|var|async|function|import|export)\b", first):
        return "not JSON: JavaScript code"
    if re.match(r"^const\s*\{\s*$", first):
        return "not JSON: a Go-style const block listing enum values"
    if first.startswith("<"):
        return "not JSON: an XML snippet (Maven configuration)"
    if re.match(r"^(go get|pip |npm |mvn )", first):
        return "not JSON: a shell install command"
    if not re.search(r"[{}\[\]=;]", raw):
        return f"not JSON: prose text {first[:40]!r}"
    return f"not JSON: a {lang} block"


def _curl_body(raw: str) -> str | None:
    m = re.search(r"--data(?:-raw|-binary)?\s+'(.*?)'", raw, re.S)
    if not m:
        return None
    body = m.group(1).strip()
    return body if body[:1] in ("{", "[") else None


def _is_error_envelope(v: Any) -> bool:
    """A response body with a non-zero error code and no payload."""
    if not isinstance(v, dict) or v.get("data") not in (None, {}, [], ""):
        return False

    def nonzero(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x != 0

    if nonzero(v.get("err_code")):
        return True
    for key in ("error", "err"):
        sub = v.get(key)
        if isinstance(sub, dict) and nonzero(sub.get("code")):
            return True
    return nonzero(v.get("code")) and "msg" in v


# --------------------------------------------------------------------------
# Corrections
# --------------------------------------------------------------------------


def load_corrections(path: Path | None = None) -> list[dict[str, Any]]:
    path = DEFAULT_CORRECTIONS if path is None else path
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(data, list):
        raise ExtractError(f"{path}: expected a list of corrections")
    for c in data:
        if not isinstance(c, dict) or not {"page", "index", "reason"} <= c.keys():
            raise ExtractError(f"{path}: each correction needs page, index, reason: {c!r}")
        if not str(c["reason"]).strip():
            raise ExtractError(f"{path}: empty reason in {c!r}")
        if not c.get("skip") and "replace" not in c:
            raise ExtractError(f"{path}: correction needs replace or skip: {c!r}")
    return data


def _apply_replacements(raw: str, corr: dict[str, Any], page: str, index: int) -> str:
    reps = corr["replace"]
    if isinstance(reps, dict):
        reps = [reps]
    for rep in reps:
        old, new = rep["old"], rep["new"]
        if raw.count(old) != 1:
            raise ExtractError(
                f"correction for {page} block {index} no longer applies: "
                f"{old!r} found {raw.count(old)} times, expected once"
            )
        raw = raw.replace(old, new)
    return raw


# --------------------------------------------------------------------------
# Page extraction
# --------------------------------------------------------------------------


def extract_page(
    text: str, page: str, corrections: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Extract the code blocks of one page (``page`` like ``feishu-project/12-用户-1.md``)."""
    if corrections is None:
        corrections = load_corrections()
    text = text.replace("\r\n", "\n")
    page_corr = {int(c["index"]): c for c in corrections if c["page"] == page}
    blocks = find_blocks(text)
    unknown = set(page_corr) - set(range(len(blocks)))
    if unknown:
        raise ExtractError(f"corrections for {page} name missing blocks {sorted(unknown)}")
    examples: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    reference = page in REFERENCE_PAGES
    prev_end = 0
    prev_label: str | None = None
    for index, b in enumerate(blocks):
        corr = page_corr.get(index)
        if b.inline:
            label, note, table_http = _inline_label(text, b, prev_end)
            ctx = _context(text, b, prev_end)
            row_first = _table_cells(text[b.extra["line_start"] : b.start])[0]
            section = ctx["section"]
            if row_first in REQUEST_HEADINGS:
                section = "request"
            elif row_first in RESPONSE_HEADINGS:
                section = "response"
            http = table_http if section == "request" else None
        else:
            ctx = _context(text, b, prev_end)
            label, note, section = ctx["label"], None, ctx["section"]
            http = b.extra.get("http") or ctx["http"]
            if label in ("或", "or") and prev_label:
                label = f"{prev_label} (或)"
        prev_end = b.end
        if corr and corr.get("skip"):
            skipped.append({"index": index, "lang": b.lang, "reason": f"manual: {corr['reason']}"})
            continue
        raw = b.raw
        if corr:
            raw = _apply_replacements(raw, corr, page, index)
        body = raw
        from_curl = False
        if raw.lstrip().startswith("curl"):
            cb = _curl_body(raw)
            if cb is None:
                skipped.append({"index": index, "lang": b.lang, "reason": _skip_reason(b)})
                continue
            body, from_curl = cb, True
            section = "request" if not reference else section
            http = _curl_http(raw) or http
        elif raw.lstrip()[:1] not in ("{", "["):
            entry = {"index": index, "lang": b.lang, "reason": _skip_reason(b)}
            first = raw.strip().split("\n", 1)[0]
            if HTTP_REQUEST_LINE_RE.match(first) or re.match(
                r"^(GET|POST|PUT|DELETE|PATCH)\s*/", first
            ):
                entry["http"] = _normalize_http(first)
            skipped.append(entry)
            continue
        try:
            value, fixes = parse_tolerant(body, inline=b.inline or "\n" not in body.strip())
        except ValueError as e:
            skipped.append(
                {"index": index, "lang": b.lang, "reason": f"unparseable JSON after repairs: {e}"}
            )
            continue
        if reference:
            kind = "structure"
        elif section == "error_response":
            kind = "error_response"
        elif section == "request" or from_curl:
            kind = "request"
        elif section == "response":
            kind = "error_response" if _is_error_envelope(value) else "response"
        else:
            kind = "structure"
        ex: dict[str, Any] = {"index": index, "kind": kind, "label": label, "lang": b.lang}
        if from_curl:
            ex["source"] = "curl --data"
        if http and kind == "request":
            ex["http"] = http
        if note:
            ex["note"] = note
        ex["fixes"] = fixes
        if corr:
            ex["corrected"] = corr["reason"]
        ex["json"] = value
        examples.append(ex)
        prev_label = label
    return {"page": page, "blocks": len(blocks), "examples": examples, "skipped": skipped}


def iter_pages(docs: Path) -> list[tuple[str, Path]]:
    pages = []
    for section in SECTIONS:
        d = docs / section
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*.md")):
            if p.name == "INDEX.md":
                continue
            pages.append((f"{section}/{p.name}", p))
    return pages


def dump_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def fixture_path(out: Path, page: str) -> Path:
    section, name = page.split("/", 1)
    return out / section / (Path(name).stem + ".json")


def run(docs: Path, out: Path) -> dict[str, int]:
    corrections = load_corrections(out / "corrections.yaml")
    used = set()
    rows = ["page\tblocks\texamples\tskipped"]
    totals = {"pages": 0, "pages_with_blocks": 0, "blocks": 0, "examples": 0, "skipped": 0}
    written: set[Path] = set()
    for page, path in iter_pages(docs):
        result = extract_page(path.read_text(encoding="utf-8"), page, corrections)
        totals["pages"] += 1
        used |= {(c["page"], int(c["index"])) for c in corrections if c["page"] == page}
        n_ex, n_sk = len(result["examples"]), len(result["skipped"])
        rows.append(f"{page}\t{result['blocks']}\t{n_ex}\t{n_sk}")
        if result["blocks"] == 0:
            continue
        totals["pages_with_blocks"] += 1
        totals["blocks"] += result["blocks"]
        totals["examples"] += n_ex
        totals["skipped"] += n_sk
        target = fixture_path(out, page)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump_json(result), encoding="utf-8")
        written.add(target)
    stale = {(c["page"], int(c["index"])) for c in corrections} - used
    if stale:
        raise ExtractError(f"corrections for unknown pages: {sorted(stale)}")
    for section in SECTIONS:
        for p in (out / section).glob("*.json") if (out / section).is_dir() else []:
            if p not in written:
                p.unlink()
    (out / "COUNTS.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return totals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=Path, default=REPO_ROOT.parent / "shared" / "docs")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "specs" / "examples")
    args = ap.parse_args(argv)
    try:
        totals = run(args.docs, args.out)
    except ExtractError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        "pages {pages} (with blocks {pages_with_blocks}), blocks {blocks}, "
        "examples {examples}, skipped {skipped}".format(**totals)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
