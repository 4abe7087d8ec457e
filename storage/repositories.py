"""Repositories: the only code that reads or writes personal fields.

Handlers receive plain domain objects (:class:`MemberView`, :class:`DialogState`) and
never see ciphertext, blind indexes or SQLAlchemy.  Repositories never commit: the
dispatcher owns the one transaction per inbound message.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from security.codes import normalise_code
from storage.models import Dialog, InboundJournal, Invite, Member, utcnow


@dataclass(frozen=True)
class MemberView:
    id: str
    handle: str
    language: str
    role: str
    joined_at: datetime
    timer_seconds: int


@dataclass(frozen=True)
class DialogState:
    flow: str
    state: str
    data: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class JournalEntry:
    id: int
    account: str
    kind: str
    body: dict[str, Any]


def _ad(*parts: str) -> bytes:
    return "|".join(parts).encode("utf-8")


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we write is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class MemberRepository:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    def _account_index(self, account: str) -> bytes:
        return self._k.index.digest("account", account.lower())

    def _handle_index(self, handle: str) -> bytes:
        return self._k.index.digest("handle", handle.casefold())

    def _view(self, row: Member) -> MemberView:
        handle = self._k.fields.decrypt_text(row.handle_ct, ad=_ad("members", "handle", row.id))
        return MemberView(
            id=row.id,
            handle=handle,
            language=row.language,
            role=row.role,
            joined_at=_aware(row.joined_at),
            timer_seconds=row.timer_seconds,
        )

    async def by_account(self, account: str) -> MemberView | None:
        row = await self._s.scalar(
            select(Member).where(Member.account_bidx == self._account_index(account))
        )
        return None if row is None else self._view(row)

    async def handle_taken(self, handle: str) -> bool:
        found = await self._s.scalar(
            select(Member.id).where(Member.handle_bidx == self._handle_index(handle))
        )
        return found is not None

    async def create(
        self, *, account: str, handle: str, language: str, role: str, timer_seconds: int
    ) -> MemberView:
        member_id = secrets.token_hex(16)
        row = Member(
            id=member_id,
            account_bidx=self._account_index(account),
            handle_bidx=self._handle_index(handle),
            account_ct=self._k.fields.encrypt_text(
                account, ad=_ad("members", "account", member_id)
            ),
            handle_ct=self._k.fields.encrypt_text(handle, ad=_ad("members", "handle", member_id)),
            language=language,
            role=role,
            joined_at=utcnow(),
            timer_seconds=timer_seconds,
        )
        self._s.add(row)
        await self._s.flush()
        return self._view(row)

    async def account_of(self, member_id: str) -> str | None:
        """The Signal account to deliver to; only the messenger should need this."""
        blob = await self._s.scalar(select(Member.account_ct).where(Member.id == member_id))
        if blob is None:
            return None
        return self._k.fields.decrypt_text(blob, ad=_ad("members", "account", member_id))

    async def set_language(self, member_id: str, language: str) -> None:
        await self._s.execute(
            update(Member).where(Member.id == member_id).values(language=language)
        )

    async def set_timer(self, member_id: str, seconds: int) -> None:
        await self._s.execute(
            update(Member).where(Member.id == member_id).values(timer_seconds=seconds)
        )

    async def delete(self, member_id: str) -> None:
        await self._s.execute(delete(Member).where(Member.id == member_id))


class InviteRepository:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    def _index(self, code: str) -> bytes:
        return self._k.index.digest("invite", normalise_code(code))

    async def create(self, code: str, *, role: str, expires_at: datetime) -> None:
        self._s.add(Invite(code_bidx=self._index(code), role=role, expires_at=expires_at))
        await self._s.flush()

    async def peek(self, code: str, *, now: datetime) -> str | None:
        """The role a still-valid code grants, without using it up."""
        row = await self._s.scalar(select(Invite).where(Invite.code_bidx == self._index(code)))
        if row is None or row.used_at is not None or _aware(row.expires_at) <= now:
            return None
        return row.role

    async def consume(self, code: str, *, now: datetime) -> str | None:
        """Atomically use the code up; None if someone else used it meanwhile."""
        role = await self.peek(code, now=now)
        if role is None:
            return None
        result = await self._s.execute(
            update(Invite)
            .where(Invite.code_bidx == self._index(code), Invite.used_at.is_(None))
            .values(used_at=now)
        )
        return role if getattr(result, "rowcount", 0) == 1 else None


class DialogRepository:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    def _index(self, account: str) -> bytes:
        return self._k.index.digest("account", account.lower())

    async def get(self, account: str, *, now: datetime) -> DialogState | None:
        bidx = self._index(account)
        row = await self._s.get(Dialog, bidx)
        if row is None:
            return None
        if _aware(row.expires_at) <= now:
            await self._s.delete(row)
            return None
        data = json.loads(
            self._k.fields.decrypt_text(row.data_ct, ad=_ad("dialogs", "data", bidx.hex()))
        )
        return DialogState(row.flow, row.state, data, _aware(row.expires_at))

    async def save(
        self, account: str, *, flow: str, state: str, data: dict[str, Any], expires_at: datetime
    ) -> None:
        bidx = self._index(account)
        blob = self._k.fields.encrypt_text(
            json.dumps(data, ensure_ascii=False), ad=_ad("dialogs", "data", bidx.hex())
        )
        await self._s.merge(
            Dialog(account_bidx=bidx, flow=flow, state=state, data_ct=blob, expires_at=expires_at)
        )
        await self._s.flush()

    async def clear(self, account: str) -> None:
        await self._s.execute(delete(Dialog).where(Dialog.account_bidx == self._index(account)))


class JournalRepository:
    KEEP_TOMBSTONES = timedelta(hours=48)

    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys

    def _key(self, account: str, signal_timestamp: int) -> bytes:
        return self._k.index.digest("inbound", f"{account.lower()}|{signal_timestamp}")

    async def record(
        self, account: str, signal_timestamp: int, kind: str, body: dict[str, Any]
    ) -> int | None:
        """Write the message down; None if this exact message was seen before."""
        key = self._key(account, signal_timestamp)
        if await self._s.scalar(select(InboundJournal.id).where(InboundJournal.dedupe_key == key)):
            return None
        payload = json.dumps({"account": account, **body}, ensure_ascii=False)
        now = utcnow()
        row = InboundJournal(
            dedupe_key=key,
            kind=kind,
            body_ct=self._k.fields.encrypt_text(payload, ad=_ad("inbound_journal", key.hex())),
            received_at=now.replace(minute=0, second=0, microsecond=0),
        )
        self._s.add(row)
        await self._s.flush()
        return row.id

    async def pending(self) -> list[JournalEntry]:
        rows = (
            await self._s.scalars(
                select(InboundJournal)
                .where(InboundJournal.body_ct.is_not(None))
                .order_by(InboundJournal.id)
            )
        ).all()
        entries = []
        for row in rows:
            assert row.body_ct is not None
            body = json.loads(
                self._k.fields.decrypt_text(
                    row.body_ct, ad=_ad("inbound_journal", row.dedupe_key.hex())
                )
            )
            account = body.pop("account")
            entries.append(JournalEntry(row.id, account, row.kind, body))
        return entries

    async def done(self, entry_id: int) -> None:
        """Erase the body, keep the tombstone that stops a replay."""
        await self._s.execute(
            update(InboundJournal).where(InboundJournal.id == entry_id).values(body_ct=None)
        )

    async def prune(self, *, now: datetime) -> int:
        result = await self._s.execute(
            delete(InboundJournal).where(
                InboundJournal.body_ct.is_(None),
                InboundJournal.received_at < now - self.KEEP_TOMBSTONES,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


class Repositories:
    """Everything a handler may touch, bound to the current transaction."""

    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self.members = MemberRepository(session, keys)
        self.invites = InviteRepository(session, keys)
        self.dialogs = DialogRepository(session, keys)
        self.journal = JournalRepository(session, keys)
