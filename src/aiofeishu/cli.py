"""The ``aiofeishu`` command (the ``cli`` extra: click and tqdm).

    aiofeishu endpoints [GROUP.NAME] [--group G]
    aiofeishu call GROUP.NAME [--json '{...}'] [key=value ...] [--all] [--user-key U] ...
    aiofeishu export work-items --project-key K --type story [--type bug] --out FILE.jsonl [--resume]
    aiofeishu sync work-items --project-key K --type story [--type bug] --db FILE.sqlite [--full]
    aiofeishu sandbox [--port 8787]

Credentials come from the environment, as for the clients: FEISHU_PROJECT_PLUGIN_ID,
FEISHU_PROJECT_PLUGIN_SECRET, FEISHU_PROJECT_USER_KEY, FEISHU_PROJECT_BASE_URL for Feishu
Project; FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_BASE_URL for the Open Platform.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the extra
    sys.exit("the aiofeishu command needs its extra: pip install 'aiofeishu[cli]'")

import msgspec

from aiofeishu import __version__
from aiofeishu._api import RequestOptions
from aiofeishu._cli_args import ArgumentError, coerce_pairs, describe_params
from aiofeishu._endpoint import Endpoint
from aiofeishu.errors import APIError, FeishuError, RequestValidationError

T = TypeVar("T")

EXIT_FAILED = 1  # the API, the network or a file refused the job
EXIT_USAGE = 2  # click's own code for a bad option or argument
EXIT_UNSETTLED = 3

EXIT_CODES = """\b
Exit codes:
  0  done
  1  the API, the network or a local file failed (stderr has the error code, log_id, hint)
  2  usage: a bad option or argument, refused before anything was sent
  3  sync: a type's items kept changing while read; the mirror is consistent, run it again
"""


def _endpoints() -> list[Endpoint]:
    from aiofeishu.open.endpoints import ALL as OPEN_ALL
    from aiofeishu.project.endpoints import ALL as PROJECT_ALL

    return [*PROJECT_ALL, *OPEN_ALL]


def _find(name: str) -> Endpoint:
    found = {f"{e.group}.{e.name}": e for e in _endpoints()}.get(name)
    if found is None:
        raise click.BadParameter(
            f"no endpoint {name!r}; `aiofeishu endpoints` lists them", param_hint="ENDPOINT"
        )
    return found


def _run(job: Coroutine[Any, Any, T]) -> T:
    """Run ``job``; an API or SDK error becomes its message on stderr and exit code 1."""
    try:
        return asyncio.run(job)
    except RequestValidationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except APIError as exc:
        click.echo(f"error {exc.code}: {exc.msg}", err=True)
        if exc.log_id:
            click.echo(f"log_id: {exc.log_id}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
    except (FeishuError, ValueError, OSError, sqlite3.Error) as exc:
        click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_FAILED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="aiofeishu")
def main() -> None:
    """Feishu Project and Feishu Open Platform from the command line."""


@main.command(epilog=EXIT_CODES)
@click.argument("endpoint", required=False, metavar="[GROUP.NAME]")
@click.option("--group", "group", help="only this group (e.g. work_items)")
def endpoints(endpoint: str | None, group: str | None) -> None:
    """List the endpoints the SDK covers, or show one with its parameters."""
    if endpoint is not None:
        _describe(_find(endpoint))
        return
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


def _describe(e: Endpoint) -> None:
    windows = ", ".join(f"{limit} per {period:g}s" for limit, period in e.windows)
    click.echo(f"{e.group}.{e.name}  {e.method} {e.path}\n  {e.summary}")
    click.echo(f"  doc: {e.doc}")
    click.echo(f"  rate limit: {e.rate_limit} ({windows or 'none stated'})")
    click.echo(f"  {'writes (X-IDEM-UUID per call)' if e.writes else 'reads'}; auth {e.auth}")
    if e.pagination is not None:
        click.echo(f"  paged ({e.pagination.style}): `aiofeishu call {e.group}.{e.name} --all`")
    click.echo("\nparameters (name, where, type, required, constraints, description):")
    for line in describe_params(e):
        click.echo(f"  {line}")


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        args = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--json") from None
    if not isinstance(args, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--json")
    return args


@main.command(epilog=EXIT_CODES)
@click.argument("endpoint")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--json", "json_args", help="the arguments as one JSON object")
@click.option("--all", "every", is_flag=True, help="paged endpoints: every item, one JSON a line")
@click.option("--user-key", help="X-USER-KEY for this call (instead of FEISHU_PROJECT_USER_KEY)")
@click.option("--idempotency-key", help="X-IDEM-UUID for a write (default: a new one)")
@click.option("--max-retries", type=click.IntRange(0), help="retries for this call")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="seconds per try")
def call(
    endpoint: str,
    pairs: tuple[str, ...],
    json_args: str | None,
    every: bool,
    user_key: str | None,
    idempotency_key: str | None,
    max_retries: int | None,
    timeout: float | None,
) -> None:
    """Call ENDPOINT (GROUP.NAME, see `aiofeishu endpoints`) and print its JSON response.

    KEY=VALUE is read as the parameter's declared type: strings as typed, numbers and
    booleans parsed, lists as JSON or a,b,c, objects as JSON.
    """
    found = _find(endpoint)
    if every and found.pagination is None:
        raise click.BadParameter(f"{endpoint} is not paged", param_hint="--all")
    args = _json_object(json_args)
    try:
        args.update(coerce_pairs(found, pairs))
    except ArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint="KEY=VALUE") from None
    options = RequestOptions(user_key, idempotency_key, max_retries, timeout)
    _run(_call(found, args, options, every))


def _method(client: Any, endpoint: Endpoint, args: dict[str, Any], options: RequestOptions) -> Any:
    method = getattr(getattr(client, endpoint.group), endpoint.name)
    try:
        return method(**args, request_options=options)
    except TypeError as exc:
        raise click.BadParameter(str(exc), param_hint="KEY=VALUE") from None


async def _call(
    endpoint: Endpoint, args: dict[str, Any], options: RequestOptions, every: bool
) -> None:
    async with _client(endpoint.platform) as client:
        result = _method(client, endpoint, args, options)
        if endpoint.download:
            sys.stdout.buffer.write(await result.read())
            return
        if every:
            await _write_items(result, endpoint)
            return
        response = await result
        raw = response.raw_json() if hasattr(response, "raw_json") else None
        data = raw if raw is not None else msgspec.to_builtins(response)
        sys.stdout.buffer.write(json.dumps(data, ensure_ascii=False, indent=2).encode() + b"\n")


async def _write_items(paginated: Any, endpoint: Endpoint) -> None:
    """Every item of every page, one compact JSON object a line, as received."""
    assert endpoint.pagination is not None
    encoder = msgspec.json.Encoder()
    async for page in paginated.pages():
        items: Any = page.raw_json() or {}
        for part in endpoint.pagination.items.split("."):
            items = items.get(part) if isinstance(items, dict) else None
        for item in items or ():
            sys.stdout.buffer.write(encoder.encode(item) + b"\n")
        sys.stdout.buffer.flush()


def _client(platform: str) -> Any:
    from aiofeishu import OpenClient, ProjectClient

    return ProjectClient() if platform == "project" else OpenClient()


def _scope_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--type", "types", multiple=True, required=True, help="work item type key; repeatable"
    )(fn)
    return click.option("--project-key", required=True, help="the space (project) key")(fn)


@main.group()
def export() -> None:
    """Bulk exports."""


@export.command("work-items", epilog=EXIT_CODES)
@_scope_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON Lines file")
@click.option("--resume", is_flag=True, help="go on after the last item written")
@click.option("--page-size", default=200, show_default=True, type=click.IntRange(1, 200))
def export_work_items_command(
    project_key: str, types: tuple[str, ...], out: str, resume: bool, page_size: int
) -> None:
    """Export every work item of the given types, a page at a time (constant memory).

    A resumed export has every item that exists when it reads a type exactly once; items
    deleted or changed after they were written stay as they were written.
    """
    stats = _run(_export(project_key, types, out, resume, page_size))
    total = sum(stats.total.values())
    click.echo(
        f"{stats.written} work items written to {out} in {stats.pages} pages"
        + (f" (the server counted {total})" if stats.total else "")
        + (f" ({stats.skipped_duplicates} already there)" if stats.skipped_duplicates else ""),
        err=True,
    )


def _bar_callback(bar: Any) -> Callable[[str, int, int | None], None]:
    """on_page for a Progress: its total is the sum of each type's first reported total."""
    totals: dict[str, int] = {}

    def on_page(type_key: str, n: int, total: int | None) -> None:
        if type_key not in totals and total is not None:
            totals[type_key] = total
            bar.set_total(sum(totals.values()))
        bar.update(n)

    return on_page


async def _export(
    project_key: str, types: Sequence[str], out: str, resume: bool, page_size: int
) -> Any:
    from aiofeishu import ProjectClient
    from aiofeishu.export import export_work_items
    from aiofeishu.progress import Progress

    async with ProjectClient() as client:
        with Progress("export", unit="work items") as bar:
            return await export_work_items(
                client,
                project_key=project_key,
                work_item_types=types,
                out=out,
                resume=resume,
                page_size=page_size,
                on_page=_bar_callback(bar),
            )


@main.group()
def sync() -> None:
    """Incremental mirrors."""


@sync.command("work-items", epilog=EXIT_CODES)
@_scope_options
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="SQLite file")
@click.option("--full", is_flag=True, help="read everything; mark what is gone as deleted")
@click.option(
    "--overlap", default=300.0, show_default=True, type=click.FloatRange(0), help="seconds re-read"
)
@click.option("--page-size", default=200, show_default=True, type=click.IntRange(1, 200))
def sync_work_items_command(
    project_key: str, types: tuple[str, ...], db: str, full: bool, overlap: float, page_size: int
) -> None:
    """Mirror work items into SQLite: the first run reads everything, later runs what changed.

    Table work_items (id, work_item_type_key, updated_at, deleted, json, ...) and sync_state.
    A killed run leaves a consistent mirror; the next run goes on where it stopped.
    """
    stats = _run(_sync(project_key, types, db, full, overlap, page_size))
    click.echo(
        f"read {stats.read}, inserted {stats.inserted}, updated {stats.updated}, "
        f"deleted {stats.deleted} ({stats.unchanged} unchanged); "
        f"{stats.calls} calls in {stats.elapsed:.1f}s",
        err=True,
    )
    if stats.unsettled:
        click.echo(f"unsettled: {', '.join(stats.unsettled)} changed while read", err=True)
        sys.exit(EXIT_UNSETTLED)


async def _sync(
    project_key: str, types: Sequence[str], db: str, full: bool, overlap: float, page_size: int
) -> Any:
    from aiofeishu import ProjectClient
    from aiofeishu.progress import Progress
    from aiofeishu.sqlite_sink import SQLiteSink
    from aiofeishu.sync import sync_work_items

    with SQLiteSink(db) as sink:
        async with ProjectClient() as client:
            with Progress("sync", unit="work items") as bar:
                return await sync_work_items(
                    client,
                    project_key=project_key,
                    work_item_types=types,
                    sink=sink,
                    full=full,
                    overlap=overlap,
                    page_size=page_size,
                    on_page=_bar_callback(bar),
                )


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the sandbox server (same options as `python -m aiofeishu.sandbox`)."""
    from aiofeishu.sandbox.__main__ import main as sandbox_main

    sys.exit(sandbox_main(ctx.args))


if __name__ == "__main__":
    main()
