"""A sandbox in a process of its own, for tests whose clients run in other processes.

Its own interpreter, so its arrival stamps never wait for a test's GIL or event loop. The
parent asks over a pipe for what it saw: the arrival stamps of the requests it admitted,
per endpoint (as ``SandboxApp.max_in_window`` counts them), its 429s and token fetches.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiofeishu.sandbox import Sandbox
from benchmarks.quota import max_in_window

__all__ = ["SandboxProcess", "SandboxReport", "sandbox_process"]

TOKEN_ENDPOINT = "authen.plugin_token"


@dataclass(frozen=True)
class SandboxReport:
    admitted: dict[str, list[float]]  # endpoint -> arrival stamps of the requests not refused
    refused: dict[str, list[float]]  # endpoint -> arrival stamps of the 429s
    rejected_429: int
    token_fetches: int

    def max_in_window(self, endpoint: str, period: float) -> int:
        """The most admitted arrivals within any ``period``, counted as the sandbox counts."""
        return max_in_window(self.admitted.get(endpoint, []), period)

    def span(self, endpoint: str) -> float:
        times = self.admitted.get(endpoint, [])
        return max(times) - min(times) if times else 0.0


def _report(sb: Sandbox) -> SandboxReport:
    admitted: dict[str, list[float]] = {}
    refused: dict[str, list[float]] = {}
    for seen in sb.received:
        if seen.endpoint is not None:
            kept = refused if seen.status == 429 else admitted
            kept.setdefault(seen.endpoint, []).append(seen.at)
    return SandboxReport(admitted, refused, sb.server.rejected_429, len(sb.calls(TOKEN_ENDPOINT)))


async def _main(conn: Any, options: dict[str, Any]) -> None:
    async with Sandbox(**options) as sb:
        conn.send(sb.url)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv) == "report":
            conn.send(_report(sb))


def _serve(conn: Any, options: dict[str, Any]) -> None:
    asyncio.run(_main(conn, options))


class SandboxProcess:
    def __init__(self, url: str, conn: Any) -> None:
        self.url = url
        self._conn = conn

    def report(self) -> SandboxReport:
        self._conn.send("report")
        if not self._conn.poll(30):
            raise RuntimeError("the sandbox process did not report within 30 s")
        report: SandboxReport = self._conn.recv()
        return report


@contextmanager
def sandbox_process(**options: Any) -> Iterator[SandboxProcess]:
    """A started sandbox (keyword arguments of ``SandboxConfig``), stopped on exit."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, options), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(60):
            raise RuntimeError("the sandbox process did not start within 60 s")
        yield SandboxProcess(parent.recv(), parent)
    finally:
        with suppress(OSError):  # a sandbox that died has closed its end already
            parent.send("stop")
        parent.close()
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
