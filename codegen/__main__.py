"""`python -m codegen [--check]`: validate specs/ and (re)write the generated modules."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from .emit import generate, readme_with_endpoints
from .spec import SpecError, load

ROOT = Path(__file__).resolve().parents[1]


def _format(paths: list[Path]) -> None:
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run(
        [
            *ruff,
            "check",
            "--fix-only",
            "--quiet",
            "--select",
            "I,F401,UP",
            "--no-cache",
            *map(str, paths),
        ],
        check=False,
    )
    subprocess.run([*ruff, "format", "--quiet", "--no-cache", *map(str, paths)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen")
    parser.add_argument("--check", action="store_true", help="fail if the generated files differ")
    args = parser.parse_args()
    try:
        specs = load(ROOT / "specs")
    except SpecError as exc:
        print(f"spec error: {exc}", file=sys.stderr)
        return 2
    out_root = ROOT / "src" / "aiofeishu"
    files = generate(specs, out_root)
    readme = ROOT / "README.md"
    extra = {readme: readme_with_endpoints(readme.read_text(encoding="utf-8"), specs)}
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            staged = {Path(tmp) / p.relative_to(out_root): text for p, text in files.items()}
            stale_extra = [
                p.relative_to(ROOT)
                for p, text in extra.items()
                if p.read_text(encoding="utf-8") != text
            ]
            for path, text in staged.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            _format(list(staged))
            stale = [
                p.relative_to(ROOT)
                for p, s in zip(files, staged, strict=True)
                if not p.exists() or p.read_text(encoding="utf-8") != s.read_text(encoding="utf-8")
            ]
        stale += stale_extra
        if stale:
            print(
                "generated code is out of date; run `make generate`:",
                *stale,
                sep="\n  ",
                file=sys.stderr,
            )
            return 1
        print(f"generated code is up to date ({len(files)} files)")
        return 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _format(list(files))
    for path, text in extra.items():
        path.write_text(text, encoding="utf-8")
    print(f"generated {len(files)} files from {len(specs.all_endpoints())} endpoints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
