"""`python -m codegen [--check]`: validate a specs/ tree and (re)write what it generates.

By default: specs/ → src/aiofeishu/{project,open}, error_codes.py, the endpoint table
of README.md and the language reference of specs/README.md. `--specs`, `--out` and
`--docs` point it elsewhere (the golden-record test: tests/codegen_fixture/).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from .emit import generate, readme_with_endpoints
from .language_docs import with_language_reference
from .spec import SpecError, load

ROOT = Path(__file__).resolve().parents[1]


def _format(paths: list[Path]) -> None:
    """Our ruff settings (pyproject.toml), wherever the files are."""
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache", "--quiet"]
    fix = ["check", "--fix-only", "--select", "I,F401,UP", *config]
    subprocess.run([*ruff, *fix, *map(str, paths)], check=False)
    subprocess.run([*ruff, "format", *config, *map(str, paths)], check=True)


def render_all(specs_root: Path, out_root: Path, docs: list[Path]) -> dict[Path, str]:
    """Every generated file's final text (formatted), by its path. Raises SpecError."""
    specs = load(specs_root)
    modules = generate(specs, out_root)
    with tempfile.TemporaryDirectory() as tmp:
        staged = {path: Path(tmp) / path.relative_to(out_root) for path in modules}
        for path, text in modules.items():
            staged[path].parent.mkdir(parents=True, exist_ok=True)
            staged[path].write_text(text, encoding="utf-8")
        _format(list(staged.values()))
        files = {path: stage.read_text(encoding="utf-8") for path, stage in staged.items()}
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        files[doc] = with_language_reference(readme_with_endpoints(text, specs))
    return files


def stale(files: dict[Path, str]) -> list[Path]:
    """The files whose text on disk differs from `files`."""
    return [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen")
    parser.add_argument("--check", action="store_true", help="fail if the generated files differ")
    parser.add_argument("--specs", type=Path, default=ROOT / "specs", help="the specs/ tree")
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "aiofeishu", help="package")
    parser.add_argument(
        "--docs",
        type=Path,
        nargs="*",
        help="markdown files whose generated regions to refresh (default: both READMEs)",
    )
    args = parser.parse_args(argv)
    docs = args.docs if args.docs is not None else [ROOT / "README.md", args.specs / "README.md"]
    try:
        files = render_all(args.specs, args.out, docs)
    except SpecError as exc:
        print(f"spec error: {exc}", file=sys.stderr)
        return 2
    changed = stale(files)
    if args.check:
        if changed:
            print("generated code is out of date; run `make generate`:", file=sys.stderr)
            print(*(f"  {path}" for path in changed), sep="\n", file=sys.stderr)
            return 1
        print(f"generated code is up to date ({len(files)} files)")
        return 0
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
    print(f"generated {len(files)} files ({len(changed)} changed) from {args.specs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
