"""Admission by reservation: a call reserves its start time, sleeps until then, and leaves.

A :class:`Reserver` (the Redis script, or its in-process twin) picks the earliest start
that keeps every window of a policy within its limit and records it, in one step; the
caller only sleeps. Windows count the reserved start, so a call that leaves later than its
reservation by more than the policy's margin can absorb keeps its place by moving every
later reservation on by its lateness (a move every store hears of, so sleepers wait it
out); a request sent a second time takes a fresh reservation, and a call whose start fell
inside a cool-down reserves again after it.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol

from aiofeishu._clock_link import ClockLink
from aiofeishu._store import RatePolicy, Ticket
from aiofeishu._store_errors import StoreUnavailableError

__all__ = ["Move", "ReservationTicket", "Reserver", "admit", "note_move"]

logger = logging.getLogger("aiofeishu")

# A lease held by someone else is polled (its holder's release is not broadcast): first
# soon, then at most this often per process.
LEASE_POLL_MAX = 0.05


class Move(NamedTuple):
    """Reservations counted after ``after`` moved on by ``by``, at ``at`` (reserver's clock)."""

    at: float
    after: float
    by: float


# Moves are rare (a call left late): a reservation sleeping through this many is unlikely,
# and it would only miss the oldest.
MOVES_KEPT = 1024


def note_move(moves: list[Move], move: Move) -> None:
    """Add ``move`` to a quota's moves, in order, once (a store hears its own moves twice)."""
    at = bisect.bisect_left(moves, move)
    if at < len(moves) and moves[at] == move:
        return
    moves.insert(at, move)
    if len(moves) > MOVES_KEPT:
        del moves[0]


class Reserver(Protocol):
    """Where reservations and leases live; ``clock_link`` relates its clock to ours."""

    clock_link: ClockLink

    async def reserve(
        self, key: str, policy: RatePolicy, member: str, lease_id: str, replaces: str | None
    ) -> tuple[float, float] | None:
        """Reserve ``member``'s start and return (the reserver's time now, the start) in
        seconds of its own clock, taking ``lease_id``'s concurrency lease first when the
        policy has one; None when the leases are all held. ``replaces`` is dropped in the
        same step."""
        ...

    async def give_back(self, key: str, member: str | None, lease_id: str | None) -> None:
        """Drop a reservation that was never sent and/or a concurrency lease."""
        ...

    def lease_queue(self, key: str) -> asyncio.Lock:
        """Local waiters for ``key``'s lease queue here, so one of them polls at a time."""
        ...

    async def keep_place(
        self, key: str, policy: RatePolicy, member: str
    ) -> tuple[float, Move | None] | None:
        """Count ``member`` from now and move every later reservation on by as much as it
        is late; (the reserver's time now, the move or None if it was not late), or None
        when the reservation is gone or the move would exceed ``longest_move(policy)``. The
        move is announced to every store (see ``moves``)."""
        ...

    def moves(self, key: str) -> Sequence[Move]:
        """The moves this process knows of on ``key``, oldest first."""
        ...

    def cool_until(self, key: str) -> float:
        """The end, on the reserver's clock, of the latest cool-down this process knows of
        on ``key``. Reservations starting before it were dropped by the cool-down."""
        ...


Fallback = Callable[[], Awaitable[Ticket]]


def longest_move(policy: RatePolicy) -> float:
    """The longest a late call may move the later reservations: half the shortest period,
    so those it moves hear of it long before their own start."""
    return min((period for _, period in policy.windows), default=0.0) / 2


def margin_tolerance(policy: RatePolicy) -> float:
    """How late a call may leave after its reservation: half of the smallest padding (the
    other half absorbs network jitter)."""
    if not policy.windows:
        return float("inf")
    return min(policy.padded(period) - period for _, period in policy.windows) / 2


class ReservationTicket:
    """A :class:`~aiofeishu._store.Ticket` over a :class:`Reserver`.

    ``fallback``, when given, replaces the reservation with a ticket of another store if
    the reserver becomes unavailable after admission (Redis store, ``on_unavailable="local"``).
    """

    __slots__ = (
        "_clock",
        "_departures",
        "_fallback",
        "_followed",
        "_id",
        "_inner",
        "_key",
        "_member",
        "_moved",
        "_policy",
        "_released",
        "_reserved_at",
        "_reserved_on",
        "_reserver",
        "_seq",
        "_start",
        "_tolerance",
    )

    def __init__(
        self,
        reserver: Reserver,
        key: str,
        policy: RatePolicy,
        clock: Callable[[], float],
        fallback: Fallback | None = None,
    ) -> None:
        self._reserver = reserver
        self._key = key
        self._policy = policy
        self._clock = clock
        self._fallback = fallback
        self._tolerance = margin_tolerance(policy)
        self._id = secrets.token_hex(8)  # also the concurrency lease's id
        self._seq = 0
        self._member: str | None = None
        self._start = 0.0  # on the reserver's clock
        self._reserved_at = 0.0
        self._reserved_on = 0.0  # the reserver's time when the reservation was made
        self._followed: set[Move] = set()
        self._moved = 0.0
        self._departures = 0
        self._released = False
        self._inner: Ticket | None = None

    def __repr__(self) -> str:
        return f"ReservationTicket(key={self._key!r}, departures={self._departures})"

    @property
    def reservations(self) -> int:
        """Reservations taken so far: one, plus one per re-send, cool-down it had reserved
        into, or late wake it could not absorb by a move."""
        return self._seq

    @property
    def moved(self) -> float:
        """Seconds by which this call's late departures moved the later reservations on."""
        return self._moved

    async def take(self, replaces: str | None = None) -> None:
        """Reserve a start and sleep until it; cancelled or failing, hold nothing new."""
        self._seq += 1
        member = f"{self._id}:{self._seq}"
        admitting = self._member is None
        try:
            self._start = await self._reserve(member, replaces)
            self._member, self._reserved_at = member, self._clock()
            delay = self._reserver.clock_link.not_before(self._start) - self._reserved_at
            if delay > 0:
                await asyncio.sleep(delay)
        except BaseException:
            # Only admission holds the lease when it fails: after it, release() returns it.
            lease = self._id if admitting and self._policy.concurrency is not None else None
            await asyncio.shield(self._give_back(member, lease))
            raise

    async def _reserve(self, member: str, replaces: str | None) -> float:
        """The reserved start (reserver's clock), after waiting for a lease if needed."""
        reserved = await self._ask(member, replaces)
        if reserved is not None:
            return reserved
        async with self._reserver.lease_queue(self._key):
            pause = 0.005
            while True:
                await asyncio.sleep(pause)
                pause = min(pause * 2, LEASE_POLL_MAX)
                reserved = await self._ask(member, replaces)
                if reserved is not None:
                    return reserved

    async def _ask(self, member: str, replaces: str | None) -> float | None:
        sent = self._clock()
        answer = await self._reserver.reserve(self._key, self._policy, member, self._id, replaces)
        if answer is None:
            return None
        server_now, start = answer
        self._reserver.clock_link.observe(sent, self._clock(), server_now)
        self._reserved_on = server_now
        self._followed.clear()
        return start

    def _lateness(self) -> float:
        return self._clock() - self._reserver.clock_link.not_after(self._start)

    async def _follow_moves(self) -> None:
        """Start later by every move that moved this reservation, and sleep until then."""
        while True:
            moved = False
            moves = self._reserver.moves(self._key)
            for move in moves[bisect.bisect_left(moves, (self._reserved_on,)) :]:
                if self._is_moved_by(move):
                    self._followed.add(move)
                    self._start += move.by
                    moved = True
            if not moved:
                return
            delay = self._reserver.clock_link.not_before(self._start) - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)

    def _is_moved_by(self, move: Move) -> bool:
        """Whether ``move`` was made after this reservation and moved it (not yet followed).
        A move stamped in the reservation's own microsecond counts: following one needlessly
        only waits, missing one could leave too early."""
        return (
            self._reserved_on <= move.at and move.after < self._start and move not in self._followed
        )

    async def _keep_place(self) -> bool:
        """Be counted from now, moving the later reservations; False if the place is gone."""
        assert self._member is not None
        sent = self._clock()
        answer = await self._reserver.keep_place(self._key, self._policy, self._member)
        if answer is None:
            return False
        now, move = answer
        self._reserver.clock_link.observe(sent, self._clock(), now)
        self._start = self._reserved_on = now  # earlier moves are counted in it
        self._followed = {move} if move is not None else set()  # not its own move
        self._moved += move.by if move is not None else 0.0
        return True

    async def _settle(self) -> None:
        """Make leaving now keep every window: follow the moves announced, reserve again
        after a cool-down, and keep the place of a late departure (it leaves at once)."""
        while True:
            await self._follow_moves()
            if self._start < self._reserver.cool_until(self._key):
                await self.take(replaces=self._member)
            elif self._lateness() <= self._tolerance or await self._keep_place():
                return
            else:
                await self.take(replaces=self._member)  # its place is gone: a new one

    async def depart(self) -> None:
        if self._inner is not None:
            return await self._inner.depart()
        try:
            if self._departures:
                await self.take()  # sent again by aiohttp: this request needs a slot too
            await self._settle()
        except StoreUnavailableError:
            if self._fallback is None:
                raise
            self._inner = await self._fallback()
            return await self._inner.depart()
        self._departures += 1

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._inner is not None:
            await self._inner.release()
        unsent = None if self._departures else self._member
        lease = self._id if self._policy.concurrency is not None else None
        if unsent is not None or lease is not None:
            await self._give_back(unsent, lease)

    async def _give_back(self, member: str | None, lease: str | None) -> None:
        try:
            await self._reserver.give_back(self._key, member, lease)
        except StoreUnavailableError as exc:
            # Reservations and leases expire by themselves: nothing is lost for good.
            logger.debug("could not give back a reservation of %s: %s", self._key, exc)


async def admit(
    reserver: Reserver,
    key: str,
    policy: RatePolicy,
    clock: Callable[[], float],
    fallback: Fallback | None = None,
) -> ReservationTicket:
    """Admit one call under ``policy``: returns once its reserved start has come."""
    ticket = ReservationTicket(reserver, key, policy, clock, fallback)
    await ticket.take()
    return ticket
