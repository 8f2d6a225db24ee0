"""Medians, ratios, targets and the RESULTS.md writer shared by every benchmark."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEFORE_AFTER = ROOT / "benchmarks" / "before_after.md"
NOT_INSTALLED = "not installed"
VERSIONED = ("aiofeishu", "aiohttp", "msgspec", "pydantic", "pydantic-core", "lark-oapi", "httpx")


# -- numbers ------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_mb(megabytes: float) -> str:
    return f"{megabytes:.1f} MB"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"


def optional_module(name: str) -> ModuleType | None:
    """The module, or None when the optional dependency is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def rss_mb() -> float:
    """Current resident set size of this process, in MB (Linux /proc; 0 elsewhere)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    peak = _status_kb("VmHWM")
    if peak:
        return peak / 1024
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _status_kb(key: str) -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- results ------------------------------------------------------------------
@dataclass
class Target:
    """One claim: ``measured`` compared with ``threshold`` (None measured: could not run)."""

    claim: str
    measured: float | None
    threshold: float
    higher_is_better: bool
    shown: str = ""  # how ``measured`` reads in the report, e.g. "12.3×"

    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.higher_is_better:
            return self.measured >= self.threshold
        return self.measured <= self.threshold

    def status(self, judged: bool) -> str:
        met = self.met()
        if met is None:
            return "n/a"
        if not judged:
            return "not judged (smoke)"
        return "PASS" if met else "MISS"


@dataclass
class Section:
    """What one benchmark reports: how it was run, a table of medians and ratios, its targets."""

    name: str
    title: str
    setup: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    smoke: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        data = dict(data)
        data["targets"] = [Target(**t) for t in data.get("targets", [])]
        return cls(**data)

    def print(self) -> None:
        print(f"\n== {self.title} ==")
        for line in self.setup:
            print(f"  {line}")
        if self.rows:
            print()
            print(_text_table(self.columns, self.rows))
        for target in self.targets:
            print(f"  [{target.status(not self.smoke)}] {target.claim}: {target.shown or 'n/a'}")
        for note in self.notes:
            print(f"  note: {note}")

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        out += [f"- {line}" for line in self.setup]
        if self.rows:
            out += ["", _md_table(self.columns, self.rows)]
        if self.targets:
            out += ["", _md_table(["target", "measured", "result"], self._target_rows())]
        if self.notes:
            out += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(out) + "\n"

    def _target_rows(self) -> list[list[str]]:
        return [[t.claim, t.shown or "n/a", f"**{t.status(True)}**"] for t in self.targets]


def _text_table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    lines = ["  " + "  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _md_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- environment and RESULTS.md -------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total() -> str:
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(meminfo.readline().split()[1])
        return f"{kb / 1024 / 1024:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        return "RAM unknown"


def environment() -> dict[str, str]:
    versions = {}
    for dist in VERSIONED:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = NOT_INSTALLED
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs, {_memory_total()}, {platform.machine()}",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def write_results(sections: list[Section], command: str, elapsed: float) -> Path:
    env = environment()
    out = [
        "# aiofeishu benchmarks",
        "",
        f"Generated by `{command}` in {elapsed:.0f} s. Every figure is the median of several runs",
        "in one session on one machine; rerun it to check them on yours.",
        "",
        f"- date: {env['date']}",
        f"- machine: {env['machine']}",
        f"- OS: {env['os']}",
        f"- Python: {env['python']}",
        f"- versions: {env['versions']}",
        "",
        "## Summary",
        "",
        _md_table(
            ["benchmark", "target", "measured", "result"],
            [[s.title, *row] for s in sections for row in s._target_rows()],
        ),
        "",
    ]
    out += [s.markdown() for s in sections]
    if BEFORE_AFTER.exists():
        out.append(BEFORE_AFTER.read_text().rstrip() + "\n")
    RESULTS.write_text("\n".join(out))
    return RESULTS


# -- running one benchmark -------------------------------------------------------
def cli(run: Callable[[bool], Section], description: str) -> None:
    """``python -m benchmarks.<name> [--smoke] [--json PATH]``: run, print, optionally save."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run, no thresholds")
    parser.add_argument("--json", type=Path, help="also write the section here (for __main__)")
    args = parser.parse_args()
    section = run(args.smoke)
    section.smoke = args.smoke
    section.print()
    if args.json:
        args.json.write_text(json.dumps(asdict(section), ensure_ascii=False))


# -- timing -----------------------------------------------------------------------
def seconds_per_call(fn: Callable[[], object], number: int) -> float:
    """Wall time per call over ``number`` back-to-back calls (the garbage collector stays on)."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], object], budget: float) -> int:
    """How many calls of ``fn`` fill about ``budget`` seconds (at least one)."""
    number = 1
    while True:
        elapsed = seconds_per_call(fn, number) * number
        if elapsed >= budget / 4 or number >= 1 << 20:
            return max(1, int(number * budget / max(elapsed, 1e-9)))
        number *= 4
