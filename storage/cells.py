"""Cells (compartments), memberships and invites into them.

A cell's name is encrypted with the cell's own data key.  Cells are referred to by a
short random ``ref`` ("K7Q2M"): it says nothing about the cell and, since every lookup
that crosses a compartment answers the same for a real ref and a random one, knowing a
ref gains nothing either.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from security.codes import new_ref, normalise_code
from storage.common import ad, aware
from storage.keystore import KeyStore
from storage.models import Cell, Invite, Membership

PURPOSE = "cell"
COUNCIL = "council"


@dataclass(frozen=True)
class CellView:
    id: str
    ref: str
    name: str
    kind: str
    retired: bool


@dataclass(frozen=True)
class InviteView:
    cell_id: str
    role: str


class CellRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    async def _view(self, row: Cell) -> CellView:
        name = ""
        if row.name_ct is not None and row.dek_id is not None:
            dek = await self._ks.data_key(row.dek_id, PURPOSE, row.id)
            name = dek.decrypt_text(row.name_ct, ad=ad("cells", "name", row.id))
        return CellView(row.id, row.ref, name, row.kind, row.retired_at is not None)

    async def create(self, name: str, *, kind: str = "cell") -> CellView:
        cell_id = secrets.token_hex(16)
        ref = new_ref()
        while await self._s.scalar(select(Cell.id).where(Cell.ref == ref)) is not None:
            ref = new_ref()
        self._s.add(Cell(id=cell_id, ref=ref, kind=kind))
        await self._s.flush()
        await self._ks.new_cell_key(cell_id)
        dek_id, dek = await self._ks.new_data_key(cell_id, PURPOSE, cell_id)
        await self._s.execute(
            update(Cell)
            .where(Cell.id == cell_id)
            .values(dek_id=dek_id, name_ct=dek.encrypt_text(name, ad=ad("cells", "name", cell_id)))
        )
        return CellView(cell_id, ref, name, kind, False)

    async def council(self) -> CellView | None:
        row = await self._s.scalar(select(Cell).where(Cell.kind == COUNCIL))
        return None if row is None else await self._view(row)

    async def by_id(self, cell_id: str) -> CellView | None:
        row = await self._s.get(Cell, cell_id)
        return None if row is None else await self._view(row)

    async def by_ref(self, ref: str) -> CellView | None:
        row = await self._s.scalar(select(Cell).where(Cell.ref == normalise_code(ref)))
        return None if row is None else await self._view(row)

    async def rename(self, cell_id: str, name: str) -> None:
        row = await self._s.get(Cell, cell_id)
        if row is None or row.dek_id is None:
            return
        dek = await self._ks.data_key(row.dek_id, PURPOSE, cell_id)
        row.name_ct = dek.encrypt_text(name, ad=ad("cells", "name", cell_id))
        await self._s.flush()

    async def retire(self, cell_id: str, *, now: datetime) -> None:
        await self._s.execute(update(Cell).where(Cell.id == cell_id).values(retired_at=now))

    async def counts(self) -> tuple[int, int]:
        """(live cells, memberships) — the aggregate a coordinator may see."""
        cells = await self._s.scalar(
            select(func.count())
            .select_from(Cell)
            .where(Cell.kind == "cell", Cell.retired_at.is_(None))
        )
        people = await self._s.scalar(
            select(func.count(func.distinct(Membership.member_id)))
            .join(Cell, Cell.id == Membership.cell_id)
            .where(Cell.kind == "cell")
        )
        return int(cells or 0), int(people or 0)

    # --- memberships ----------------------------------------------------------------

    async def add_member(self, member_id: str, cell_id: str, role: str) -> None:
        existing = await self._s.get(Membership, (member_id, cell_id))
        if existing is None:
            self._s.add(Membership(member_id=member_id, cell_id=cell_id, role=role))
        elif role == "organizer":
            existing.role = role
        await self._s.flush()

    async def role_in(self, member_id: str, cell_id: str) -> str | None:
        row = await self._s.get(Membership, (member_id, cell_id))
        return None if row is None else row.role

    async def organizes_any(self, member_id: str) -> bool:
        found = await self._s.scalar(
            select(Membership.cell_id)
            .where(Membership.member_id == member_id, Membership.role == "organizer")
            .limit(1)
        )
        return found is not None

    async def cells_of(self, member_id: str) -> list[tuple[CellView, str]]:
        rows = (
            await self._s.execute(
                select(Cell, Membership.role)
                .join(Membership, Membership.cell_id == Cell.id)
                .where(Membership.member_id == member_id, Cell.kind == "cell")
                .order_by(Membership.joined_at)
            )
        ).all()
        return [(await self._view(cell), role) for cell, role in rows]

    async def member_ids(self, cell_id: str, *, role: str | None = None) -> list[str]:
        query = select(Membership.member_id).where(Membership.cell_id == cell_id)
        if role is not None:
            query = query.where(Membership.role == role)
        return list((await self._s.scalars(query)).all())

    async def headcount(self, cell_id: str) -> int:
        found = await self._s.scalar(
            select(func.count()).select_from(Membership).where(Membership.cell_id == cell_id)
        )
        return int(found or 0)


class InviteRepository:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    def _index(self, code: str) -> bytes:
        return self._k.index.digest("invite", normalise_code(code))

    async def create(self, code: str, *, cell_id: str, role: str, expires_at: datetime) -> None:
        self._s.add(
            Invite(code_bidx=self._index(code), cell_id=cell_id, role=role, expires_at=expires_at)
        )
        await self._s.flush()

    async def peek(self, code: str, *, now: datetime) -> InviteView | None:
        """The cell and role a still-valid code grants, without using it up."""
        row = await self._s.scalar(select(Invite).where(Invite.code_bidx == self._index(code)))
        if row is None or row.used_at is not None or aware(row.expires_at) <= now:
            return None
        return InviteView(row.cell_id, row.role)

    async def consume(self, code: str, *, now: datetime) -> InviteView | None:
        """Atomically use the code up; None if someone else used it meanwhile."""
        found = await self.peek(code, now=now)
        if found is None:
            return None
        result = await self._s.execute(
            update(Invite)
            .where(Invite.code_bidx == self._index(code), Invite.used_at.is_(None))
            .values(used_at=now)
        )
        return found if getattr(result, "rowcount", 0) == 1 else None
