"""The ``aiofeishu`` command (the ``cli`` extra: click and tqdm).

    aiofeishu endpoints [--group G]
    aiofeishu call GROUP.NAME [--json '{...}'] [key=value ...]
    aiofeishu export work-items --project-key K --type story [--type bug] --out FILE.jsonl [--resume]
    aiofeishu sandbox [--port 8787]

Credentials come from the environment, as for the clients: FEISHU_PROJECT_PLUGIN_ID,
FEISHU_PROJECT_PLUGIN_SECRET, FEISHU_PROJECT_USER_KEY, FEISHU_PROJECT_BASE_URL for Feishu
Project; FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_BASE_URL for the Open Platform.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the extra
    sys.exit("the aiofeishu command needs its extra: pip install 'aiofeishu[cli]'")

import msgspec

from aiofeishu._endpoint import Endpoint
from aiofeishu.errors import APIError, FeishuError


def _endpoints() -> list[Endpoint]:
    from aiofeishu.open.endpoints import ALL as OPEN_ALL
    from aiofeishu.project.endpoints import ALL as PROJECT_ALL

    return [*PROJECT_ALL, *OPEN_ALL]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Feishu Project and Feishu Open Platform from the command line."""


@main.command()
@click.option("--group", "group", help="only this group (e.g. work_items)")
def endpoints(group: str | None) -> None:
    """List the endpoints the SDK covers."""
    rows = [e for e in _endpoints() if group is None or e.group == group]
    if not rows:
        groups = sorted({e.group for e in _endpoints()})
        raise click.BadParameter(
            f"no group {group!r}; groups: {', '.join(groups)}", param_hint="--group"
        )
    width = max(len(f"{e.group}.{e.name}") for e in rows)
    method_width = max(len(e.method) for e in rows)
    for e in rows:
        click.echo(
            f"{e.group + '.' + e.name:<{width}}  {e.method:<{method_width}}  {e.path}  "
            f"{'write' if e.writes else 'read '}  {e.summary}"
        )
    click.echo(f"\n{len(rows)} endpoints", err=True)


def _parse_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="ARGS")
        try:
            args[key] = json.loads(text)  # numbers, lists, objects, true/false
        except ValueError:
            args[key] = text  # a plain string
    return args


@main.command()
@click.argument("endpoint")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--json", "json_args", help="the arguments as one JSON object")
def call(endpoint: str, pairs: tuple[str, ...], json_args: str | None) -> None:
    """Call ENDPOINT (GROUP.NAME, see `aiofeishu endpoints`) and print its JSON response."""
    found = {f"{e.group}.{e.name}": e for e in _endpoints()}.get(endpoint)
    if found is None:
        raise click.BadParameter(
            f"no endpoint {endpoint!r}; `aiofeishu endpoints` lists them", param_hint="ENDPOINT"
        )
    args: dict[str, Any] = {}
    if json_args is not None:
        try:
            args = json.loads(json_args)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--json") from None
        if not isinstance(args, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--json")
    args.update(_parse_pairs(pairs))
    try:
        body = asyncio.run(_call(found, args))
    except APIError as exc:
        click.echo(f"error {exc.code}: {exc.msg}", err=True)
        if exc.log_id:
            click.echo(f"log_id: {exc.log_id}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(1)
    except FeishuError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.stdout.buffer.write(body + b"\n")


async def _call(endpoint: Endpoint, args: dict[str, Any]) -> bytes:
    client = _client(endpoint.platform)
    async with client:
        method = getattr(getattr(client, endpoint.group), endpoint.name)
        try:
            result = method(**args)
        except TypeError as exc:
            raise click.BadParameter(str(exc), param_hint="ARGS") from None
        if endpoint.download:
            return await result.read()  # type: ignore[no-any-return]
        response = await result
        raw = response.raw_json() if hasattr(response, "raw_json") else None
        data = raw if raw is not None else msgspec.to_builtins(response)
        return json.dumps(data, ensure_ascii=False, indent=2).encode()


def _client(platform: str) -> Any:
    from aiofeishu import OpenClient, ProjectClient

    return ProjectClient() if platform == "project" else OpenClient()


@main.group()
def export() -> None:
    """Bulk exports."""


@export.command("work-items")
@click.option("--project-key", required=True, help="the space (project) key")
@click.option(
    "--type", "types", multiple=True, required=True, help="work item type key; repeatable"
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON Lines file")
@click.option("--resume", is_flag=True, help="go on from the last page written")
@click.option("--page-size", default=200, show_default=True, type=click.IntRange(1, 200))
def export_work_items_command(
    project_key: str, types: tuple[str, ...], out: str, resume: bool, page_size: int
) -> None:
    """Export every work item of the given types, a page at a time (constant memory)."""
    try:
        stats = asyncio.run(_export(project_key, types, out, resume, page_size))
    except APIError as exc:
        click.echo(f"error {exc.code}: {exc.msg} (log_id {exc.log_id})", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(1)
    except (FeishuError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"{stats.written} work items written to {out} in {stats.pages} pages"
        + (f" ({stats.skipped_duplicates} already there)" if stats.skipped_duplicates else ""),
        err=True,
    )


async def _export(
    project_key: str, types: Sequence[str], out: str, resume: bool, page_size: int
) -> Any:
    from aiofeishu import ProjectClient
    from aiofeishu.export import export_work_items
    from aiofeishu.progress import Progress

    async with ProjectClient() as client:
        with Progress("export", unit="work items") as bar:

            def on_page(_type: str, n: int, total: int) -> None:
                bar.update(n)

            return await export_work_items(
                client,
                project_key=project_key,
                work_item_types=types,
                out=out,
                resume=resume,
                page_size=page_size,
                on_page=on_page,
            )


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the sandbox server (same options as `python -m aiofeishu.sandbox`)."""
    from aiofeishu.sandbox.__main__ import main as sandbox_main

    sys.exit(sandbox_main(ctx.args))


if __name__ == "__main__":
    main()
