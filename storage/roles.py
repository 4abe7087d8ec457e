"""Roles, skills, availability and pauses of members; the coordinators' changes to the
role catalogue.

Holdings are plain rows keyed by the random member id, like memberships: a cold copy
shows how many people hold each role (the shape of the network), never who they are.
Names and descriptions of roles coordinators added are encrypted with the root-derived
network key, bound to the role key; the shipped catalogue is configuration, not data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from storage.common import ad, aware
from storage.models import Cell, Member, MemberRole, Membership, MemberSkill, NetworkRole


@dataclass(frozen=True)
class CustomRole:
    key: str
    names: Mapping[str, str]
    descriptions: Mapping[str, str]


@dataclass(frozen=True)
class Coverage:
    """How many of a cell's members hold a role, and how many of them are paused."""

    holders: int
    paused: int


def not_paused(now: datetime) -> ColumnElement[bool]:
    """Members who take call-outs and offers now (also used by the audience query)."""
    return or_(Member.paused_until.is_(None), Member.paused_until <= now)


class RoleRepository:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    # --- the catalogue's changes -----------------------------------------------------

    @staticmethod
    def _labels_ad(key: str) -> bytes:
        return ad("network_roles", "labels", key)

    async def changes(self) -> tuple[list[CustomRole], set[str]]:
        """Roles coordinators added (retired ones too) and every retired key."""
        rows = (await self._s.scalars(select(NetworkRole))).all()
        custom, retired = [], set()
        for row in rows:
            if row.retired_at is not None:
                retired.add(row.key)
            if row.custom and row.labels_ct is not None:
                labels = json.loads(
                    self._k.network.decrypt_text(row.labels_ct, ad=self._labels_ad(row.key))
                )
                custom.append(CustomRole(row.key, labels["names"], labels["descriptions"]))
        return custom, retired

    async def add_role(
        self, names: Mapping[str, str], descriptions: Mapping[str, str], *, now: datetime
    ) -> str:
        """A new role; its key is random (the names are the secret part)."""
        key = "c_" + secrets.token_hex(6)
        plain = json.dumps({"names": dict(names), "descriptions": dict(descriptions)})
        self._s.add(
            NetworkRole(
                key=key,
                custom=True,
                labels_ct=self._k.network.encrypt_text(plain, ad=self._labels_ad(key)),
                retired_at=None,
                changed_at=now,
            )
        )
        await self._s.flush()
        return key

    async def retire(self, key: str, *, now: datetime) -> None:
        row = await self._s.get(NetworkRole, key)
        if row is None:
            self._s.add(NetworkRole(key=key, custom=False, retired_at=now, changed_at=now))
        else:
            row.retired_at, row.changed_at = now, now
        await self._s.flush()

    async def restore(self, key: str, *, now: datetime) -> None:
        await self._s.execute(
            update(NetworkRole)
            .where(NetworkRole.key == key)
            .values(retired_at=None, changed_at=now)
        )

    # --- what a member holds ---------------------------------------------------------

    async def held(self, member_id: str) -> dict[str, str | None]:
        """role key -> detail (a translator's pairs), for one member."""
        rows = await self._s.execute(
            select(MemberRole.role_key, MemberRole.detail).where(MemberRole.member_id == member_id)
        )
        return {str(k): d for k, d in rows.all()}

    async def signup(
        self, member_id: str, role_key: str, *, detail: str | None, now: datetime
    ) -> bool:
        """True if new; signing up again only updates the detail."""
        row = await self._s.get(MemberRole, (member_id, role_key))
        if row is not None:
            row.detail = detail
            await self._s.flush()
            return False
        self._s.add(MemberRole(member_id=member_id, role_key=role_key, detail=detail, since=now))
        await self._s.flush()
        return True

    async def drop(self, member_id: str, role_key: str) -> bool:
        result = await self._s.execute(
            delete(MemberRole).where(
                MemberRole.member_id == member_id, MemberRole.role_key == role_key
            )
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    # --- skills and availability -----------------------------------------------------

    async def skills(self, member_id: str) -> set[str]:
        rows = await self._s.scalars(
            select(MemberSkill.skill).where(MemberSkill.member_id == member_id)
        )
        return set(rows.all())

    async def set_skills(self, member_id: str, skills: Iterable[str]) -> None:
        await self._s.execute(delete(MemberSkill).where(MemberSkill.member_id == member_id))
        for skill in sorted(set(skills)):
            self._s.add(MemberSkill(member_id=member_id, skill=skill))
        await self._s.flush()

    async def availability(self, member_id: str) -> int | None:
        return await self._s.scalar(select(Member.availability).where(Member.id == member_id))

    async def set_availability(self, member_id: str, mask: int | None) -> None:
        await self._s.execute(
            update(Member).where(Member.id == member_id).values(availability=mask or None)
        )

    # --- pauses ------------------------------------------------------------------------

    async def paused_until(self, member_id: str) -> datetime | None:
        found = await self._s.scalar(select(Member.paused_until).where(Member.id == member_id))
        return None if found is None else aware(found)

    async def pause(self, member_id: str, until: datetime | None) -> None:
        """``None`` resumes."""
        await self._s.execute(
            update(Member).where(Member.id == member_id).values(paused_until=until)
        )

    async def end_pause(self, member_id: str, *, now: datetime) -> bool:
        """Clear a pause that has ended; False if it was cleared already (a concurrent
        tick, or RESUME) or moved later (PAUSE again), so the welcome goes out once."""
        result = await self._s.execute(
            update(Member)
            .where(Member.id == member_id, Member.paused_until <= now)
            .values(paused_until=None)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def pauses_over(self, *, now: datetime, limit: int = 100) -> list[str]:
        """Members whose pause has ended (the sweep welcomes them back and clears it)."""
        rows = await self._s.scalars(
            select(Member.id)
            .where(Member.paused_until.is_not(None), Member.paused_until <= now)
            .order_by(Member.paused_until)
            .limit(limit)
        )
        return list(rows.all())

    # --- who holds a role ------------------------------------------------------------

    async def holders(
        self, role_key: str, cell_ids: Iterable[str] | None, *, now: datetime
    ) -> dict[str, int | None]:
        """Members of these live cells (None: every live cell) who hold the role, are
        not paused and not quarantined: member id -> availability mask.

        For named cells this is two queries on purpose: the cells' members first (by the
        cell index), then their holdings by primary key.  One join lets PostgreSQL start
        from every holder of the role in the network and probe each one's memberships,
        which grows with the network (measured: 1,000 drivers scanned at 10,000 members
        to fill one cell's slot)."""
        people = (
            select(Membership.member_id)
            .join(Cell, Cell.id == Membership.cell_id)
            .where(Cell.kind == "cell", Cell.retired_at.is_(None))
        )
        if cell_ids is not None:
            people = people.where(Membership.cell_id.in_(list(cell_ids)))
            ids = list((await self._s.scalars(people.distinct())).all())
            if not ids:
                return {}
            among = MemberRole.member_id.in_(ids)
        else:
            among = MemberRole.member_id.in_(people)
        rows = await self._s.execute(
            select(Member.id, Member.availability)
            .join(MemberRole, MemberRole.member_id == Member.id)
            .where(
                MemberRole.role_key == role_key,
                among,
                Member.quarantined_at.is_(None),
                not_paused(now),
            )
        )
        return {str(m): a for m, a in rows.all()}

    async def coverage(self, cell_id: str, *, now: datetime) -> dict[str, Coverage]:
        """role key -> how many of the cell's members hold it, how many are paused.
        Counts only: never who."""
        paused = and_(Member.paused_until.is_not(None), Member.paused_until > now)
        rows = await self._s.execute(
            select(
                MemberRole.role_key,
                func.count(),
                func.count().filter(paused),
            )
            .join(Membership, Membership.member_id == MemberRole.member_id)
            .join(Member, Member.id == MemberRole.member_id)
            .where(Membership.cell_id == cell_id)
            .group_by(MemberRole.role_key)
        )
        return {str(k): Coverage(int(n), int(p)) for k, n, p in rows.all()}

    async def role_holder_ids(self, role_key: str, cell_id: str) -> list[str]:
        """Every holder of a role in one cell, paused ones too (the load figure's "signed
        up and had no turn yet" list)."""
        rows = await self._s.scalars(
            select(MemberRole.member_id)
            .join(Membership, Membership.member_id == MemberRole.member_id)
            .where(MemberRole.role_key == role_key, Membership.cell_id == cell_id)
        )
        return list(rows.all())
