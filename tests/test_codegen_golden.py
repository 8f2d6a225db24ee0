"""Golden record: the fixture specs (tests/codegen_fixture/specs) generate exactly the files
in tests/codegen_fixture/golden. After a deliberate generator change, refresh them with
`make golden` and review the diff in the commit."""

from __future__ import annotations

import difflib
from pathlib import Path

from codegen.__main__ import render_all

FIXTURE = Path(__file__).resolve().parent / "codegen_fixture"
GOLDEN = FIXTURE / "golden"


def test_the_fixture_specs_generate_the_golden_files() -> None:
    files = render_all(FIXTURE / "specs", GOLDEN, [GOLDEN / "README.md"])
    on_disk = {p for p in GOLDEN.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert set(files) == on_disk, "files added or dropped; run `make golden`"
    diffs = [
        "".join(
            difflib.unified_diff(
                path.read_text(encoding="utf-8").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"golden/{path.relative_to(GOLDEN)}",
                tofile="generated",
            )
        )
        for path, text in sorted(files.items())
        if path.read_text(encoding="utf-8") != text
    ]
    assert not diffs, "".join(diffs) + "\nthe generator's output changed; run `make golden`"


def test_the_golden_modules_are_valid_python() -> None:
    for path in sorted(GOLDEN.rglob("*.py")):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
