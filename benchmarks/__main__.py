"""Run the benchmarks, each in a fresh interpreter, and write benchmarks/RESULTS.md.

python -m benchmarks                 # full: several runs each, judged, writes RESULTS.md
python -m benchmarks --smoke         # CI: tiny sizes, one run, nothing judged or written
python -m benchmarks --only decode,quota
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._report import ROOT, Section, write_results

BENCHMARKS = ("decode", "import_cost", "overhead", "quota", "streaming", "fleet")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run, no thresholds")
    parser.add_argument(
        "--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}", default=""
    )
    args = parser.parse_args()
    selected = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    sections: list[Section] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in selected:
            out = Path(tmp) / f"{name}.json"
            command = [sys.executable, "-m", f"benchmarks.{name}", "--json", str(out)]
            if args.smoke:
                command.append("--smoke")
            print(f"\n### {name}", flush=True)
            # A fresh interpreter per benchmark: no imports, heap or peak RSS carried over.
            if subprocess.run(command, cwd=ROOT).returncode != 0 or not out.exists():
                failed.append(name)
                continue
            sections.append(Section.from_dict(json.loads(out.read_text())))
    elapsed = time.perf_counter() - started

    print(f"\n### summary ({'smoke, not judged' if args.smoke else 'judged'}, {elapsed:.0f} s)")
    for section in sections:
        for target in section.targets:
            print(
                f"  [{target.status(not args.smoke)}] {section.title}: {target.claim}: {target.shown}"
            )
    if failed:
        print(f"  FAILED to run: {', '.join(failed)}")
        return 1
    if args.smoke:
        return 0
    if selected != list(BENCHMARKS):
        print("  RESULTS.md not written: it needs every benchmark (run without --only)")
        return 0
    path = write_results(sections, "python -m benchmarks", elapsed)
    print(f"  wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
