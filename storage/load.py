"""How the load of a cell's actions is shared: the concentration figure (issue 6).

The figure needs only plain columns that already exist: the status and start of a cell's
call-outs, and the answers in ``callout_members``, whose rows carry a keyed hash of the
member id ("attendee" domain), never the id.  So the count per person is an aggregate
over those hashes; nothing here decrypts a call-out or learns who answered.  Only the
holders of a role who had no turn are named (to the cell's own organizers), and their
ids come from the memberships of that cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from storage.keystore import KeyStore
from storage.models import Callout, CalloutMember, Cell, Member, MemberRole, Membership

ATTENDEE = "attendee"  # the domain storage.callout_answers hashes member ids in
WARN_EVERY = timedelta(days=14)  # organizers hear about the load at most this often


@dataclass(frozen=True)
class LoadFigure:
    """``busiest`` people (a fifth of ``people``, at least one) took ``share`` (0..1) of
    the ``total`` confirmations of a cell in the window."""

    total: int
    people: int
    busiest: int
    share: float

    @property
    def percent(self) -> int:
        return round(self.share * 100)


def figure(counts: Iterable[int], people: int) -> LoadFigure:
    """The share of all confirmations taken by the busiest fifth of a cell's members.

    A fifth of the *members*, not of the people who confirmed: a cell of 25 where the
    same 3 people say yes every time is what this must show, and counting only those
    who confirmed would hide everyone who never gets a turn.
    """
    ordered = sorted(counts, reverse=True)
    total = sum(ordered)
    busiest = max(1, ceil(people / 5))
    top = sum(ordered[:busiest])
    return LoadFigure(total, people, busiest, top / total if total else 0.0)


class LoadRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def attendee_index(self, member_id: str) -> bytes:
        """The key of this member's rows in ``callout_members`` (see its repository)."""
        return self._k.index.digest(ATTENDEE, member_id)

    async def confirmations(
        self, cell_id: str, *, since: datetime, until: datetime
    ) -> dict[bytes, int]:
        """Attendee hash -> YES answers to the cell's call-outs (not cancelled) whose
        action started in [since, until].  One aggregate query over that cell's window:
        the call-outs are found by cell and start, their answers by primary key."""
        rows = await self._s.execute(
            select(CalloutMember.member_bidx, func.count())
            .join(Callout, Callout.id == CalloutMember.callout_id)
            .where(
                Callout.cell_id == cell_id,
                Callout.starts_at >= since,
                Callout.starts_at <= until,
                Callout.status != "cancelled",
                CalloutMember.answer == "yes",
            )
            .group_by(CalloutMember.member_bidx)
        )
        return {bytes(bidx): int(n) for bidx, n in rows.all()}

    async def waiting_holders(
        self, cell_id: str, had_turn: set[bytes], *, now: datetime
    ) -> dict[str, list[str]]:
        """Role key -> ids of the cell's holders of it who are not paused and whose
        attendee hash is not in ``had_turn``, longest-signed-up first.  Paused people
        asked for rest: they are not named as waiting for a turn."""
        rows = await self._s.execute(
            select(MemberRole.role_key, MemberRole.member_id)
            .join(Membership, Membership.member_id == MemberRole.member_id)
            .join(Member, Member.id == MemberRole.member_id)
            .where(
                Membership.cell_id == cell_id,
                or_(Member.paused_until.is_(None), Member.paused_until <= now),
            )
            .order_by(MemberRole.role_key, MemberRole.since, MemberRole.member_id)
        )
        waiting: dict[str, list[str]] = {}
        for role_key, member_id in rows.all():
            if self.attendee_index(str(member_id)) not in had_turn:
                waiting.setdefault(str(role_key), []).append(str(member_id))
        return waiting

    async def claim_warning(self, cell_id: str, *, now: datetime) -> bool:
        """Mark the cell's organizers as told now, unless they were told in the last
        14 days.  One conditional UPDATE, so two actions ending at once warn once."""
        result = await self._s.execute(
            update(Cell)
            .where(
                Cell.id == cell_id,
                or_(Cell.load_warned_at.is_(None), Cell.load_warned_at <= now - WARN_EVERY),
            )
            .values(load_warned_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1
