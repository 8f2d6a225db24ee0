"""`import aiofeishu` stays light: generated modules load only when used."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_loads_no_generated_module_and_no_aiohttp() -> None:
    out = run(
        "import sys, aiofeishu; print(sorted(m for m in sys.modules if m.startswith(('aiofeishu.', 'aiohttp'))))"
    )
    assert "aiofeishu.project.models" not in out and "aiofeishu.project.requests" not in out
    assert "aiohttp" not in out


def test_a_client_loads_models_only_on_first_call() -> None:
    out = run(
        "import sys; from aiofeishu import ProjectClient; c = ProjectClient('p', 's', user_key='u'); "
        "c.work_items; print('aiofeishu.project.models' in sys.modules, 'aiofeishu.project.requests' in sys.modules)"
    )
    assert out == "False False"
