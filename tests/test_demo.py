"""`make demo`'s job, small: it must run to its summary and leave a complete export."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bulk_sync_runs_small(tmp_path: Path) -> None:
    out = tmp_path / "items.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "bulk_sync.py"),
            "--items",
            "60",
            "--time-scale",
            "4",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    # Every 429 (rare: loopback jitter at scaled-down windows) was retried, nothing else was.
    retries = re.search(r"retries +(\d+)", done.stdout)
    seen_429 = re.search(r"429s seen +(\d+)", done.stdout)
    assert retries and seen_429 and retries[1] == seen_429[1], done.stdout
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 60
    assert "create:" in done.stderr  # plain progress lines when not on a terminal
