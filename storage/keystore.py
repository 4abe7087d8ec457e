"""Cell key-encryption keys and per-record data keys (envelope encryption).

Each cell has versioned KEKs, wrapped by the root-derived wrap key; the newest version
wraps new data keys, older ones still unwrap until rotation has moved everything off
them.  Each record (member profile, cell name, dialog draft, later cases and call-outs)
has its own data key, wrapped by its cell's KEK.  Associated data binds a wrapped key to
its purpose, cell, record id and KEK version, so a wrapped key copied to another row or
cell does not unwrap (threat test 3).  Deleting the data key row shreds the record.

Unwrapped KEKs are cached on the :class:`~security.Keyring` (dropped on seal); data keys
are unwrapped per use, which is one AES-GCM operation on 32 bytes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import DecryptionError, FieldCipher, Keyring
from security.keyring import new_key
from storage.models import CellKey, DataKey


class KeyMissingError(Exception):
    """A record's data key (or its cell's KEK) no longer exists: it was shredded."""


def _kek_ad(cell_id: str, version: int) -> bytes:
    return f"cell_key|{cell_id}|{version}".encode("ascii")


def _dek_ad(purpose: str, cell_id: str, record_id: str, version: int) -> bytes:
    return f"data_key|{purpose}|{cell_id}|{record_id}|{version}".encode()


@dataclass(frozen=True)
class RotationProgress:
    cells: int
    old_keys: int


class KeyStore:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    async def current_version(self, cell_id: str) -> int | None:
        found = await self._s.scalar(
            select(func.max(CellKey.version)).where(CellKey.cell_id == cell_id)
        )
        return None if found is None else int(found)

    async def new_cell_key(self, cell_id: str) -> int:
        """Create the next KEK version for a cell; new data keys are wrapped with it."""
        version = (await self.current_version(cell_id) or 0) + 1
        if version > 255:
            raise ValueError("a cell key can be rotated at most 255 times")
        key = new_key()
        self._s.add(
            CellKey(
                cell_id=cell_id,
                version=version,
                wrapped=self._k.kek_wrap.encrypt(key, ad=_kek_ad(cell_id, version)),
            )
        )
        await self._s.flush()
        self._k.remember_kek(cell_id, version, key)
        return version

    async def kek(self, cell_id: str, version: int) -> FieldCipher:
        cached = self._k.kek(cell_id, version)
        if cached is not None:
            return cached
        wrapped = await self._s.scalar(
            select(CellKey.wrapped).where(CellKey.cell_id == cell_id, CellKey.version == version)
        )
        if wrapped is None:
            raise KeyMissingError("cell key not found")
        key = self._k.kek_wrap.decrypt(wrapped, ad=_kek_ad(cell_id, version))
        return self._k.remember_kek(cell_id, version, key)

    async def new_data_key(
        self, cell_id: str, purpose: str, record_id: str
    ) -> tuple[str, FieldCipher]:
        version = await self.current_version(cell_id)
        if version is None:
            version = await self.new_cell_key(cell_id)
        kek = await self.kek(cell_id, version)
        dek = new_key()
        dek_id = secrets.token_hex(16)
        self._s.add(
            DataKey(
                id=dek_id,
                cell_id=cell_id,
                kek_version=version,
                purpose=purpose,
                record_id=record_id,
                wrapped=kek.encrypt(dek, ad=_dek_ad(purpose, cell_id, record_id, version)),
            )
        )
        await self._s.flush()
        return dek_id, FieldCipher(dek)

    async def data_key(self, dek_id: str, purpose: str, record_id: str) -> FieldCipher:
        """The record's data key; the purpose and record id must match what it was made for."""
        row = await self._s.get(DataKey, dek_id)
        if row is None:
            raise KeyMissingError("data key not found")
        if row.purpose != purpose or row.record_id != record_id:
            raise DecryptionError("data key belongs to another record")
        kek = await self.kek(row.cell_id, row.kek_version)
        ad = _dek_ad(purpose, row.cell_id, record_id, row.kek_version)
        return FieldCipher(kek.decrypt(row.wrapped, ad=ad))

    async def shred(self, dek_id: str) -> None:
        await self._s.execute(delete(DataKey).where(DataKey.id == dek_id))

    # --- rotation -----------------------------------------------------------------

    async def cells_with_keys(self) -> list[str]:
        return list((await self._s.scalars(select(CellKey.cell_id).distinct())).all())

    async def rotate_cell(self, cell_id: str) -> int:
        return await self.new_cell_key(cell_id)

    async def rewrap_batch(self, cell_id: str, limit: int) -> int:
        """Move up to ``limit`` data keys of a cell onto its newest KEK; how many moved."""
        current = await self.current_version(cell_id)
        if current is None:
            return 0
        rows = (
            await self._s.scalars(
                select(DataKey)
                .where(DataKey.cell_id == cell_id, DataKey.kek_version < current)
                .order_by(DataKey.id)
                .limit(limit)
            )
        ).all()
        new_kek = await self.kek(cell_id, current)
        for row in rows:
            old_kek = await self.kek(cell_id, row.kek_version)
            dek = old_kek.decrypt(
                row.wrapped, ad=_dek_ad(row.purpose, cell_id, row.record_id, row.kek_version)
            )
            await self._s.execute(
                update(DataKey)
                .where(DataKey.id == row.id)
                .values(
                    kek_version=current,
                    wrapped=new_kek.encrypt(
                        dek, ad=_dek_ad(row.purpose, cell_id, row.record_id, current)
                    ),
                )
            )
        return len(rows)

    async def retire_old_versions(self, cell_id: str) -> int:
        """Delete KEK versions no data key uses any more (never the newest)."""
        current = await self.current_version(cell_id)
        if current is None:
            return 0
        in_use = set(
            (
                await self._s.scalars(
                    select(DataKey.kek_version).where(DataKey.cell_id == cell_id).distinct()
                )
            ).all()
        )
        old = (
            await self._s.scalars(
                select(CellKey.version).where(CellKey.cell_id == cell_id, CellKey.version < current)
            )
        ).all()
        retired = [v for v in old if v not in in_use]
        for version in retired:
            await self._s.execute(
                delete(CellKey).where(CellKey.cell_id == cell_id, CellKey.version == version)
            )
            self._k.forget_kek(cell_id, version)
        return len(retired)


async def rotation_progress(session: AsyncSession) -> RotationProgress:
    """Keys not yet on their cell's newest KEK, readable without any key (for the CLI)."""
    newest = (
        select(CellKey.cell_id, func.max(CellKey.version).label("v"))
        .group_by(CellKey.cell_id)
        .subquery()
    )
    old = await session.scalar(
        select(func.count())
        .select_from(DataKey)
        .join(newest, newest.c.cell_id == DataKey.cell_id)
        .where(DataKey.kek_version < newest.c.v)
    )
    cells = await session.scalar(select(func.count(func.distinct(CellKey.cell_id))))
    return RotationProgress(cells=int(cells or 0), old_keys=int(old or 0))
