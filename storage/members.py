"""Members: the only code that reads or writes a person's identifiers.

A member's profile (account UUID, handle, trusted safety number) is encrypted with the
member's own data key, wrapped by the key of the cell they joined first (their home
cell).  Leaving shreds that data key.  Lookups go through keyed blind indexes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from storage.common import ad, aware
from storage.keystore import KeyStore
from storage.models import Ban, DataKey, Member

PURPOSE = "member"


@dataclass(frozen=True)
class MemberView:
    id: str
    handle: str
    language: str
    role: str
    joined_at: datetime
    timer_seconds: int
    home_cell_id: str
    quarantined: bool = False

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"


class MemberRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def account_index(self, account: str) -> bytes:
        return self._k.index.digest("account", account.lower())

    def _handle_index(self, handle: str) -> bytes:
        return self._k.index.digest("handle", handle.casefold())

    async def _dek(self, row: Member) -> FieldCipher:
        return await self._ks.data_key(row.dek_id, PURPOSE, row.id)

    async def _view(self, row: Member, dek: FieldCipher | None = None) -> MemberView:
        dek = dek or await self._dek(row)
        return MemberView(
            id=row.id,
            handle=dek.decrypt_text(row.handle_ct, ad=ad("members", "handle", row.id)),
            language=row.language,
            role=row.role,
            joined_at=aware(row.joined_at),
            timer_seconds=row.timer_seconds,
            home_cell_id=row.home_cell_id,
            quarantined=row.quarantined_at is not None,
        )

    async def by_account(self, account: str) -> MemberView | None:
        row = await self._s.scalar(
            select(Member).where(Member.account_bidx == self.account_index(account))
        )
        return None if row is None else await self._view(row)

    async def by_id(self, member_id: str) -> MemberView | None:
        row = await self._s.get(Member, member_id)
        return None if row is None else await self._view(row)

    async def by_handle(self, handle: str) -> MemberView | None:
        row = await self._s.scalar(
            select(Member).where(Member.handle_bidx == self._handle_index(handle))
        )
        return None if row is None else await self._view(row)

    async def handle_taken(self, handle: str) -> bool:
        found = await self._s.scalar(
            select(Member.id).where(Member.handle_bidx == self._handle_index(handle))
        )
        return found is not None

    async def is_banned(self, account: str) -> bool:
        found = await self._s.get(Ban, self.account_index(account))
        return found is not None

    async def create(
        self,
        *,
        account: str,
        handle: str,
        language: str,
        role: str,
        timer_seconds: int,
        home_cell_id: str,
        identity: str | None = None,
    ) -> MemberView:
        member_id = secrets.token_hex(16)
        dek_id, dek = await self._ks.new_data_key(home_cell_id, PURPOSE, member_id)
        row = Member(
            id=member_id,
            account_bidx=self.account_index(account),
            handle_bidx=self._handle_index(handle),
            home_cell_id=home_cell_id,
            dek_id=dek_id,
            account_ct=dek.encrypt_text(account, ad=ad("members", "account", member_id)),
            handle_ct=dek.encrypt_text(handle, ad=ad("members", "handle", member_id)),
            identity_ct=None
            if identity is None
            else dek.encrypt_text(identity, ad=ad("members", "identity", member_id)),
            language=language,
            role=role,
            timer_seconds=timer_seconds,
        )
        self._s.add(row)
        await self._s.flush()
        return await self._view(row)

    async def account_of(self, member_id: str) -> str | None:
        """The Signal account to deliver to; only delivery code should need this."""
        row = await self._s.get(Member, member_id)
        if row is None:
            return None
        dek = await self._dek(row)
        return dek.decrypt_text(row.account_ct, ad=ad("members", "account", member_id))

    async def accounts_of(self, member_ids: list[str]) -> dict[str, tuple[MemberView, str]]:
        """Profiles and Signal accounts of many members at once (fan-outs, reminders):
        one query, which also loads their data keys, so unwrapping them asks nothing
        more of the database.  Members who left are simply absent."""
        found: dict[str, tuple[MemberView, str]] = {}
        for row, dek in await self._rows_with_keys(member_ids):
            account = dek.decrypt_text(row.account_ct, ad=ad("members", "account", row.id))
            found[row.id] = (await self._view(row, dek), account)
        return found

    async def views_of(self, member_ids: list[str]) -> dict[str, MemberView]:
        """Profiles only, for lists people read (who confirmed): their Signal accounts
        are not decrypted, since nothing is sent to them."""
        return {
            row.id: await self._view(row, dek)
            for row, dek in await self._rows_with_keys(member_ids)
        }

    async def _rows_with_keys(self, member_ids: list[str]) -> list[tuple[Member, FieldCipher]]:
        if not member_ids:
            return []
        rows = (
            await self._s.execute(
                select(Member, DataKey)
                .join(DataKey, DataKey.id == Member.dek_id)
                .where(Member.id.in_(member_ids))
            )
        ).all()
        # the data key rows are in the session already: unwrapping asks nothing more
        return [(row, await self._dek(row)) for row, _key in rows]

    async def identity_of(self, member_id: str) -> str | None:
        row = await self._s.get(Member, member_id)
        if row is None or row.identity_ct is None:
            return None
        dek = await self._dek(row)
        return dek.decrypt_text(row.identity_ct, ad=ad("members", "identity", member_id))

    async def set_identity(self, member_id: str, safety_number: str) -> None:
        row = await self._s.get(Member, member_id)
        if row is None:
            return
        dek = await self._dek(row)
        row.identity_ct = dek.encrypt_text(safety_number, ad=ad("members", "identity", member_id))
        row.quarantined_at = None
        await self._s.flush()

    async def quarantine(self, member_id: str, *, now: datetime) -> bool:
        """True if the member was not quarantined before (so others should be told)."""
        result = await self._s.execute(
            update(Member)
            .where(Member.id == member_id, Member.quarantined_at.is_(None))
            .values(quarantined_at=now)
        )
        return getattr(result, "rowcount", 0) == 1

    async def set_language(self, member_id: str, language: str) -> None:
        await self._s.execute(
            update(Member).where(Member.id == member_id).values(language=language)
        )

    async def set_timer(self, member_id: str, seconds: int) -> None:
        await self._s.execute(
            update(Member).where(Member.id == member_id).values(timer_seconds=seconds)
        )

    async def set_role(self, member_id: str, role: str) -> None:
        await self._s.execute(update(Member).where(Member.id == member_id).values(role=role))

    async def with_role(self, role: str) -> list[MemberView]:
        """Coordinators (a handful); never used to list ordinary members."""
        rows = (await self._s.scalars(select(Member).where(Member.role == role))).all()
        return [await self._view(row) for row in rows]

    async def delete(self, member_id: str) -> None:
        """Remove the member and shred their data key (crypto-shred)."""
        row = await self._s.get(Member, member_id)
        if row is None:
            return
        await self._ks.shred(row.dek_id)
        await self._s.execute(delete(Member).where(Member.id == member_id))

    async def ban(self, account: str) -> None:
        if not await self.is_banned(account):
            self._s.add(Ban(account_bidx=self.account_index(account)))
            await self._s.flush()
