"""The network row and coordinator enrollment codes: readable by a sealed process.

Nothing here needs the root key except the network's name, which is encrypted with the
root-derived network key once the bot first holds one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from security.codes import normalise_code
from storage.common import aware
from storage.models import Enrollment, Network


@dataclass(frozen=True)
class NetworkRecord:
    id: str
    state: str
    mode: str
    threshold: int
    share_count: int
    share_identifier: int | None
    epoch: int
    root_wrapped: bytes | None
    backlog_public: bytes | None
    argon_salt: bytes | None
    argon_time: int | None
    argon_memory_kib: int | None
    rotation_requested_at: datetime | None


def enrollment_hash(network_id: str, code: str) -> bytes:
    return hashlib.sha256(f"enroll|{network_id}|{normalise_code(code)}".encode()).digest()


class NetworkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self) -> NetworkRecord | None:
        row = await self._s.scalar(select(Network).limit(1))
        if row is None:
            return None
        return NetworkRecord(
            id=row.id,
            state=row.state,
            mode=row.mode,
            threshold=row.threshold,
            share_count=row.share_count,
            share_identifier=row.share_identifier,
            epoch=row.epoch,
            root_wrapped=row.root_wrapped,
            backlog_public=row.backlog_public,
            argon_salt=row.argon_salt,
            argon_time=row.argon_time,
            argon_memory_kib=row.argon_memory_kib,
            rotation_requested_at=None
            if row.rotation_requested_at is None
            else aware(row.rotation_requested_at),
        )

    async def create(self, row: Network) -> None:
        self._s.add(row)
        await self._s.flush()

    async def update(self, network_id: str, **values: object) -> None:
        await self._s.execute(update(Network).where(Network.id == network_id).values(**values))

    async def seal_name(self, network_id: str, keys: Keyring) -> None:
        """Encrypt the name given at init, the first time a root key exists."""
        row = await self._s.get(Network, network_id)
        if row is None or row.name_pending is None:
            return
        row.name_ct = keys.network.encrypt_text(
            row.name_pending, ad=b"network|name|" + row.id.encode()
        )
        row.name_pending = None
        await self._s.flush()

    async def name(self, network_id: str, keys: Keyring) -> str:
        row = await self._s.get(Network, network_id)
        if row is None or row.name_ct is None:
            return ""
        return keys.network.decrypt_text(row.name_ct, ad=b"network|name|" + row.id.encode())

    # --- enrollment codes ---------------------------------------------------------

    async def add_enrollment(self, network_id: str, code: str, *, expires_at: datetime) -> None:
        self._s.add(Enrollment(code_hash=enrollment_hash(network_id, code), expires_at=expires_at))
        await self._s.flush()

    async def enrollment_valid(self, network_id: str, code: str, *, now: datetime) -> bool:
        row = await self._s.scalar(
            select(Enrollment).where(Enrollment.code_hash == enrollment_hash(network_id, code))
        )
        return row is not None and row.used_at is None and aware(row.expires_at) > now

    async def use_enrollment(self, network_id: str, code: str, *, now: datetime) -> bool:
        if not await self.enrollment_valid(network_id, code, now=now):
            return False
        result = await self._s.execute(
            update(Enrollment)
            .where(
                Enrollment.code_hash == enrollment_hash(network_id, code),
                Enrollment.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return getattr(result, "rowcount", 0) == 1

    async def reset_enrollments(self) -> None:
        await self._s.execute(update(Enrollment).values(used_at=None))
