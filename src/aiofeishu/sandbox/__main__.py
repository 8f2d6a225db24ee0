"""``python -m aiofeishu.sandbox [--port 8787]``: run a sandbox until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from aiofeishu.sandbox import Faults, Sandbox, SandboxConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aiofeishu.sandbox",
        description="An offline Feishu Project / Open Platform API built from aiofeishu's specs.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    p.add_argument("--seed", type=int, default=0, help="seeds ids, log ids and fault draws")
    p.add_argument("--token-ttl", type=int, default=7200, help="token lifetime in seconds")
    p.add_argument(
        "--time-scale", type=float, default=1.0, help="divide rate-limit windows by this"
    )
    p.add_argument("--no-rate-limits", action="store_true", help="do not enforce rate limits")
    p.add_argument(
        "--fault-429", type=float, default=0.0, metavar="P", help="probability of a spurious 429"
    )
    p.add_argument("--fault-5xx", type=float, default=0.0, metavar="P", help="probability of a 500")
    p.add_argument(
        "--fault-drop",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of dropping the connection after a write",
    )
    p.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="added to every answer"
    )
    return p


def config_from(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        seed=args.seed,
        token_ttl=args.token_ttl,
        time_scale=args.time_scale,
        rate_limits=not args.no_rate_limits,
        faults=Faults(
            rate_limit=args.fault_429,
            server_error=args.fault_5xx,
            drop_after_commit=args.fault_drop,
            latency=args.latency,
        ),
    )


async def serve(config: SandboxConfig, host: str, port: int) -> None:
    async with Sandbox(config, host=host, port=port) as sb:
        c = sb.config
        print(
            f"aiofeishu sandbox listening on {sb.url}\n\n"
            "  export FEISHU_PROJECT_BASE_URL={url}\n"
            "  export FEISHU_PROJECT_PLUGIN_ID={pid}\n"
            "  export FEISHU_PROJECT_PLUGIN_SECRET={psecret}\n"
            "  export FEISHU_PROJECT_USER_KEY={user}\n"
            "  export FEISHU_BASE_URL={url}\n"
            "  export FEISHU_APP_ID={app}\n"
            "  export FEISHU_APP_SECRET={asecret}\n\n"
            "project_key: {project}   (Ctrl-C stops it)".format(
                url=sb.url,
                pid=c.plugin_id,
                psecret=c.plugin_secret,  # demo credentials of a local sandbox, not secrets
                user=c.user_key,
                app=c.app_id,
                asecret=c.app_secret,
                project=c.project_key,
            ),
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
