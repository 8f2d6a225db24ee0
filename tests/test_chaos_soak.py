"""A chaos soak against the sandbox: concurrent mixed calls under 429s, 5xx, connections
dropped after a write committed, and latency.

What must hold, counted by the server: no logical write happens twice (every create and
comment is found once, by its unique name), no rate window holds more calls than its
limit, every failure is a FeishuError, a write that failed after its retries carries its
idempotency key and re-sending with that key creates nothing twice, and the run ends.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiofeishu import FeishuError, ProjectClient, RequestOptions
from aiofeishu.sandbox import Faults, Sandbox
from tests.sandbox_timing import margin_for

WORKERS = 8
ITEMS_PER_WORKER = 12
FAULTS = Faults(rate_limit=0.08, server_error=0.08, drop_after_commit=0.12, latency=0.01)
SOAK_DEADLINE = 120.0  # seconds; a hang fails the test instead of the suite
RESUME_ATTEMPTS = 20

Write = Callable[[RequestOptions | None], Awaitable[Any]]


@dataclass
class Ledger:
    """What the callers saw: failures by kind, and the writes left to resume."""

    failures: list[FeishuError] = field(default_factory=list)
    unfinished: list[tuple[str, Write, str]] = field(default_factory=list)  # (what, write, key)
    commented: set[str] = field(default_factory=set)  # items a comment was written on

    async def write(self, what: str, call: Write) -> Any:
        try:
            return await call(None)
        except FeishuError as error:
            self.failures.append(error)
            assert isinstance(error.idempotency_key, str) and error.idempotency_key, what
            self.unfinished.append((what, call, error.idempotency_key))
            return None

    async def read(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call()
        except FeishuError as error:
            assert error.idempotency_key is None  # a read has no key to resume with
            self.failures.append(error)
            return None


async def worker(client: ProjectClient, sb: Sandbox, ledger: Ledger, number: int) -> None:
    project = sb.project_key
    for n in range(ITEMS_PER_WORKER):
        name = f"soak-{number}-{n}"

        async def create(options: RequestOptions | None, name: str = name) -> Any:
            created = await client.work_items.create(
                project_key=project, work_item_type_key="story", name=name, request_options=options
            )
            return created

        created = await ledger.write(f"create {name}", create)
        if created is None:
            continue
        wid = int(created.data)
        await ledger.write(f"update {name}", _update(client, project, wid, name))
        ledger.commented.add(name)
        await ledger.write(f"comment {name}", _comment(client, project, wid, name))
        await ledger.read(
            lambda wid=wid: client.work_items.query(
                project_key=project, work_item_type_key="story", work_item_ids=[wid]
            )
        )
        if n % 3 == 0:
            await ledger.read(
                lambda: client.work_items.filter(
                    project_key=project, work_item_type_keys=["story"], page_size=50
                )
            )


def _update(client: ProjectClient, project: str, wid: int, name: str) -> Write:
    def update(options: RequestOptions | None) -> Awaitable[Any]:
        return client.work_items.update(
            project_key=project,
            work_item_type_key="story",
            work_item_id=wid,
            update_fields=[{"field_key": "description", "field_value": f"updated {name}"}],
            request_options=options,
        )

    return update


def _comment(client: ProjectClient, project: str, wid: int, name: str) -> Write:
    def comment(options: RequestOptions | None) -> Awaitable[Any]:
        return client.comments.create(
            project_key=project,
            work_item_type_key="story",
            work_item_id=wid,
            content=f"comment on {name}",
            request_options=options,
        )

    return comment


async def resume(ledger: Ledger) -> None:
    """Re-send every unfinished write with the key its error carried, until it succeeds."""
    for what, write, key in ledger.unfinished:
        for _ in range(RESUME_ATTEMPTS):
            try:
                await write(RequestOptions(idempotency_key=key))
                break
            except FeishuError as error:
                assert error.idempotency_key == key, what
        else:
            raise AssertionError(f"{what} still failing after {RESUME_ATTEMPTS} re-sends")


def assert_no_window_overrun(sb: Sandbox) -> None:
    from aiofeishu.project.endpoints import ALL

    for endpoint in ALL:
        name = f"{endpoint.group}.{endpoint.name}"
        if not sb.calls(name):
            continue
        for limit, period in sb.config.scaled(endpoint.windows):
            assert sb.server.max_in_window(name, period) <= limit, (name, limit, period)


async def test_chaos_soak_creates_nothing_twice_and_overruns_no_window() -> None:
    # The sandbox enforces no windows here: an overrun would then be refused with a 429
    # and disappear from the server's count. Every 429 it sends is an injected one, and
    # every other arrival counts.
    async with Sandbox(
        threaded=True, time_scale=2, rate_limits=False, faults=FAULTS, seed=11
    ) as sb:
        ledger = Ledger()
        client = sb.project_client(
            max_retries=1, retry_backoff=(0.005, 0.05), timeout=10, rate_limit_margin=margin_for(sb)
        )
        async with client, asyncio.timeout(SOAK_DEADLINE):
            await asyncio.gather(*(worker(client, sb, ledger, i) for i in range(WORKERS)))
            await resume(ledger)

        logical_creates = WORKERS * ITEMS_PER_WORKER
        names = Counter(item["name"] for item in sb.state.work_items.values())
        assert set(names) == {
            f"soak-{w}-{n}" for w in range(WORKERS) for n in range(ITEMS_PER_WORKER)
        }
        assert max(names.values()) == 1
        comments = Counter(c["content"] for c in sb.state.comments.values())
        assert comments == {f"comment on {name}": 1 for name in ledger.commented}
        # One key per logical create, across its retries and its resumption.
        keys = {r.headers.get("X-IDEM-UUID") for r in sb.calls("work_items.create")}
        assert len(keys) == logical_creates and None not in keys
        assert_no_window_overrun(sb)

        # The faults happened, and some writes did fail after their retries.
        statuses = Counter(r.status for r in sb.received)
        assert statuses[429] > 0 and statuses[500] > 0
        assert len(sb.calls("work_items.create")) > logical_creates
        assert ledger.unfinished, "no write failed after its retries: resumption untested"
        total = len(sb.received)
    assert total >= 300
