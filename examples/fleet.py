"""Several worker processes, one plugin, one quota: fleet mode against a local sandbox and Redis.

    python examples/fleet.py                   # 4 workers x 60 work-item queries through Redis
    python examples/fleet.py --store memory    # the same with each worker's in-process store
    python examples/fleet.py --redis redis://127.0.0.1:6379/0   # an existing Redis

The parent runs a sandbox (the vendor's real windows: 15 filter calls per second and 450 per
minute per token) and, unless --redis names one, a private redis-server found on PATH; each
worker is a fresh process with its own ProjectClient, as gunicorn workers or pods would be.
The summary says what the sandbox saw: requests, 429s, token fetches and the most calls in
any one-second window. With Redis: one token fetch, no 429, never more than 15 in a second.
With --store memory every worker believes the whole quota is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiofeishu import ProjectClient
from aiofeishu.sandbox import Sandbox, SandboxConfig

ENDPOINT = "work_items.filter"


# The sandbox stamps arrivals in Python, in a thread of the parent: on a busy machine
# those stamps lag by tens of milliseconds, more than the client's default margin (2 %, at
# least 25 ms per window, meant for the vendor's servers), now and then by 0.3 s: so
# these workers stretch every window by that much.
SANDBOX_MARGIN = 0.3


async def worker(sandbox_url: str, store: str | None, calls: int) -> None:
    """One worker process: ``calls`` queries at once, then a JSON line of how it went."""
    cfg = SandboxConfig()  # the sandbox's demo credentials
    started = time.perf_counter()
    async with ProjectClient(
        cfg.plugin_id,
        cfg.plugin_secret,
        user_key=cfg.user_key,
        base_url=sandbox_url,
        store=store,  # "redis://…", or None: the in-process default
        rate_limit_margin=SANDBOX_MARGIN,
    ) as client:
        results = await asyncio.gather(
            *(
                client.work_items.filter(project_key=cfg.project_key, work_item_type_keys=["story"])
                for _ in range(calls)
            ),
            return_exceptions=True,
        )
    failed = [type(r).__name__ for r in results if isinstance(r, BaseException)]
    print(json.dumps({"failed": failed, "seconds": time.perf_counter() - started}))


@contextmanager
def private_redis() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port (no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH: install Redis, or pass --redis URL")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


async def run_fleet(store: str | None, workers: int, calls: int) -> None:
    async with Sandbox(threaded=True) as sb:  # its own thread: its clock never waits for ours
        started = time.perf_counter()
        command = [sys.executable, __file__, "--worker", sb.url, "--calls", str(calls)]
        if store:
            command += ["--redis", store]
        processes = [
            await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
            for _ in range(workers)
        ]
        reports = [json.loads((await p.communicate())[0]) for p in processes]
        elapsed = time.perf_counter() - started
        print(f"{workers} workers x {calls} calls, store: {store or 'in-process (default)'}")
        print(f"  {elapsed:.1f} s; calls that failed: {sum(len(r['failed']) for r in reports)}")
        print(
            f"  the sandbox saw {len(sb.calls(ENDPOINT))} requests, "
            f"{sb.server.rejected_429} of them refused with 429, "
            f"{len(sb.calls('authen.plugin_token'))} token fetch(es), "
            f"at most {sb.server.max_in_window(ENDPOINT, 1.0)} calls in one second (limit 15)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=60, help="per worker")
    parser.add_argument("--store", choices=("redis", "memory"), default="redis")
    parser.add_argument("--redis", help="an existing Redis (default: start redis-server)")
    parser.add_argument("--worker", metavar="SANDBOX_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args.worker, args.redis, args.calls))
    elif args.store == "memory":
        asyncio.run(run_fleet(None, args.workers, args.calls))
    elif args.redis:
        asyncio.run(run_fleet(args.redis, args.workers, args.calls))
    else:
        with private_redis() as url:
            asyncio.run(run_fleet(url, args.workers, args.calls))


if __name__ == "__main__":
    main()
