"""Import cost: wall time and memory of a fresh interpreter importing aiofeishu vs lark-oapi.

Each case runs in a new interpreter that times its imports (``time.perf_counter``) and
reads its resident memory (VmRSS before, VmHWM after). aiofeishu imports what a user needs
to call both platforms: the two clients plus the generated models and request modules their
first calls load. The floor is ``import aiohttp, msgspec``, aiofeishu's only dependencies; the
aiofeishu case imports the floor first and then aiofeishu, timing each step, so what
aiofeishu adds is measured inside one process rather than as a difference of two noisy totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from benchmarks._report import (
    NOT_INSTALLED,
    ROOT,
    Section,
    Target,
    cli,
    fmt_mb,
    fmt_ratio,
    fmt_time,
    median,
    optional_module,
)

FULL_RUNS, SMOKE_RUNS = 7, 1
# Bytecode cached in a private place for every package alike (the Makefile sets
# PYTHONDONTWRITEBYTECODE, which would otherwise recompile aiofeishu's sources every run).
PYCACHE = ROOT / "benchmarks" / ".cache" / "pycache"

FLOOR = "import aiohttp, msgspec"
AIOFEISHU = (
    "from aiofeishu import OpenClient, ProjectClient\n"
    "import aiofeishu.project.models, aiofeishu.project.requests\n"
    "import aiofeishu.open.models, aiofeishu.open.requests"
)
AIOFEISHU_BARE = "import aiofeishu"
LARK = (
    "import lark_oapi as lark\n"
    "from lark_oapi.api.okr.v1 import GetProgressRecordRequest, GetProgressRecordResponse"
)

# Runs in the fresh interpreter: time and memory around each step.
CHILD = """
import json, sys, time

def status_kb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return 0

def peak_kb():
    kb = status_kb('VmHWM')
    if kb:
        return kb
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == 'darwin' else rss

steps = json.loads(sys.argv[1])
start = status_kb('VmRSS') or peak_kb()
out = {'start_mb': start / 1024, 'steps': []}
before = start
for code in steps:
    t = time.perf_counter()
    exec(code)
    wall = time.perf_counter() - t
    peak = peak_kb()
    out['steps'].append({'wall': wall, 'mb': (peak - before) / 1024})
    before = peak
print(json.dumps(out))
"""


@dataclass
class Case:
    name: str
    steps: list[str]
    available: bool = True


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def measure(case: Case) -> list[dict[str, float]]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(case.steps)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["steps"]  # type: ignore[no-any-return]


def run(smoke: bool) -> Section:
    runs = SMOKE_RUNS if smoke else FULL_RUNS
    cases = [
        Case("floor: aiohttp + msgspec", [FLOOR]),
        Case("aiofeishu (floor, then aiofeishu)", [FLOOR, AIOFEISHU]),
        Case("aiofeishu, bare `import aiofeishu`", [AIOFEISHU_BARE]),
        Case("lark-oapi", [LARK], optional_module("lark_oapi") is not None),
    ]
    PYCACHE.mkdir(parents=True, exist_ok=True)
    if not smoke:
        for case in cases:  # compile into the cache and warm the OS file cache; not counted
            if case.available:
                measure(case)
    samples: dict[str, list[list[dict[str, float]]]] = {c.name: [] for c in cases}
    for run_index in range(runs):
        for case in cases:  # interleaved, so drift hits every case alike
            if not case.available:
                continue
            steps = measure(case)
            samples[case.name].append(steps)
            total_wall = sum(s["wall"] for s in steps)
            total_mb = sum(s["mb"] for s in steps)
            print(
                f"  run {run_index + 1}/{runs} {case.name}: {fmt_time(total_wall)}, "
                f"+{fmt_mb(total_mb)}",
                flush=True,
            )

    def step(name: str, index: int, key: str) -> float:
        return median([steps[index][key] for steps in samples[name]])

    def total(name: str, key: str) -> float:
        return median([sum(s[key] for s in steps) for steps in samples[name]])

    ours, floor, lark = cases[1].name, cases[0].name, cases[3].name
    rows = []
    for case in cases:
        if not case.available:
            rows.append([case.name, NOT_INSTALLED, NOT_INSTALLED, "", ""])
            continue
        rows.append(
            [
                case.name,
                fmt_time(total(case.name, "wall")),
                fmt_mb(total(case.name, "mb")),
                fmt_ratio(total(lark, "wall") / total(case.name, "wall"))
                if cases[3].available
                else "",
                fmt_ratio(total(lark, "mb") / total(case.name, "mb")) if cases[3].available else "",
            ]
        )
    added_wall, added_mb = step(ours, 1, "wall"), step(ours, 1, "mb")
    rows.insert(
        2,
        ["… of which aiofeishu itself", fmt_time(added_wall), fmt_mb(added_mb), "", ""],
    )
    targets = [
        Target(
            "aiofeishu adds ≤ 100 ms beyond the floor",
            added_wall * 1000,
            100.0,
            False,
            fmt_time(added_wall),
        ),
        Target("aiofeishu adds ≤ 15 MB beyond the floor", added_mb, 15.0, False, fmt_mb(added_mb)),
    ]
    notes = [
        f"The floor alone (aiohttp + msgspec) takes {fmt_time(total(floor, 'wall'))} and "
        f"{fmt_mb(total(floor, 'mb'))}: aiofeishu's share of its own import is "
        f"{added_wall / total(ours, 'wall'):.0%} of the time and "
        f"{added_mb / total(ours, 'mb'):.0%} of the memory."
    ]
    if cases[3].available:
        wall_ratio = total(lark, "wall") / total(ours, "wall")
        mb_ratio = total(lark, "mb") / total(ours, "mb")
        targets += [
            Target(
                "whole import ≥ 10× faster than lark-oapi",
                wall_ratio,
                10.0,
                True,
                fmt_ratio(wall_ratio),
            ),
            Target(
                "whole import ≥ 10× lighter than lark-oapi",
                mb_ratio,
                10.0,
                True,
                fmt_ratio(mb_ratio),
            ),
        ]
        floor_wall = total(lark, "wall") / total(floor, "wall")
        floor_mb = total(lark, "mb") / total(floor, "mb")
        verdict = ""
        if min(floor_wall, floor_mb) < 10:
            verdict = " (so no client built on aiohttp can reach 10× on both here)"
        notes.append(
            f"The floor alone is {fmt_ratio(floor_wall)} faster and {fmt_ratio(floor_mb)} "
            f"lighter than lark-oapi{verdict}; beyond the floor, lark-oapi's import costs "
            f"{fmt_ratio(total(lark, 'wall') / added_wall)} the time and "
            f"{fmt_ratio(total(lark, 'mb') / added_mb)} the memory of aiofeishu's own share."
        )
    else:
        targets += [
            Target("whole import ≥ 10× faster than lark-oapi", None, 10.0, True, NOT_INSTALLED),
            Target("whole import ≥ 10× lighter than lark-oapi", None, 10.0, True, NOT_INSTALLED),
        ]
    return Section(
        name="import_cost",
        title="2. Import cost",
        setup=[
            f"Median of {runs} runs of each case, interleaved, each a fresh interpreter "
            + ("(bytecode compiled beforehand by an uncounted run)." if not smoke else "."),
            "Time: `time.perf_counter()` around the imports inside the child (interpreter "
            "start-up excluded). Memory: peak RSS after the imports minus RSS before them.",
            "aiofeishu: `from aiofeishu import OpenClient, ProjectClient` and the generated "
            "`aiofeishu.{project,open}.{models,requests}` (what the first calls import); "
            "lark-oapi: `import lark_oapi` and `from lark_oapi.api.okr.v1 import "
            "GetProgressRecordRequest, GetProgressRecordResponse`.",
        ],
        columns=[
            "imports",
            "time",
            "memory",
            "lark-oapi ÷ this (time)",
            "lark-oapi ÷ this (memory)",
        ],
        rows=rows,
        targets=targets,
        notes=notes,
    )


if __name__ == "__main__":
    cli(run, __doc__ or "")
