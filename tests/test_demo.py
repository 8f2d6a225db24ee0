"""`make demo`'s job, small, at the vendor's real windows: its summary must mean what it says."""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PHASE = re.compile(
    r"^  (\w+) +(\d+) calls in +([\d.]+)s +([\d.]+)/s +quota (\S+(?: \+ \S+)?) +"
    r"(?:ideal +([\d.]+)s +(\d+)% of ideal|fits one window)$",
    re.M,
)


def demo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bulk_sync", ROOT / "examples" / "bulk_sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ideal_is_the_sliding_window_schedule() -> None:
    phase_class = demo_module().Phase
    create = phase_class("create", ((15, 1.0),))
    create.calls, create.elapsed = 60, 3.1
    assert create.ideal() == 3.0  # calls 45..59 may leave at 3 s
    assert "ideal   3.00s  97% of ideal" in create.line() and "quota 15/1s" in create.line()
    burst = phase_class("export", ((15, 1.0), (450, 60.0)))
    burst.calls, burst.elapsed = 15, 0.2
    assert burst.ideal() == 0.0 and "fits one window" in burst.line()
    burst.calls = 451  # the minute window binds: call 450 waits for the first to age out
    assert burst.ideal() == 60.0
    assert "quota 15/1s + 450/60s" in burst.line()


def test_bulk_sync_runs_small_at_real_windows(tmp_path: Path) -> None:
    out, db = tmp_path / "items.jsonl", tmp_path / "items.sqlite"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "bulk_sync.py"),
            *("--items", "45", "--changes", "20", "--out", str(out), "--db", str(db)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "(sandbox at the vendor's windows)" in done.stdout
    phases = {m[1]: m for m in PHASE.finditer(done.stdout)}
    assert set(phases) == {"create", "export", "sync", "update", "comment", "resync"}, done.stdout
    for name, calls, elapsed, rate, _quota, ideal, percent in (m.groups() for m in phases.values()):
        # Printed to 0.01 s: allow for the rounding.
        slowest, fastest = float(elapsed) + 0.005, max(float(elapsed) - 0.005, 0.001)
        assert int(calls) / slowest - 0.05 <= float(rate) <= int(calls) / fastest + 0.05, name
        if ideal:
            share = 100 * float(ideal)
            # The share is the printed arithmetic, not a speed bound: on a loaded machine the
            # demo runs as slowly as it is scheduled. The limiter's schedule is asserted
            # exactly on virtual time (tests/test_rate_schedule.py).
            assert share / slowest - 1 <= int(percent) <= share / fastest + 1, name
    assert phases["create"].group(2) == "45" and phases["create"].group(6) == "2.00"
    assert phases["update"].group(6) == "1.00" and phases["export"].group(6) is None
    # Every 429 was retried, nothing else was; the sandbox counted them.
    retries = re.search(r"retries +(\d+)", done.stdout)
    seen_429 = re.search(r"429s seen (\d+)$", done.stdout, re.M)
    assert retries and seen_429 and retries[1] == seen_429[1], done.stdout
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 45
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM work_items WHERE deleted = 0").fetchone() == (45,)
    assert "matches the sandbox" in done.stdout and "resync read" in done.stdout
    assert "create:" in done.stderr  # plain progress lines when not on a terminal
