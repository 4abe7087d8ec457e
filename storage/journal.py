"""Dialog drafts and the sealed inbound journal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import BacklogSealer, Keyring
from storage.common import ad, aware
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Cell, Dialog, InboundJournal, utcnow

_INFO = b"lantern/inbound/v1"


@dataclass(frozen=True)
class DialogState:
    flow: str
    state: str
    data: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class DueDialog:
    bidx: bytes
    account: str | None
    flow: str
    expired: bool


@dataclass(frozen=True)
class JournalEntry:
    id: int
    account: str
    kind: str
    body: dict[str, Any]


class DialogRepository:
    """Each draft has its own data key, wrapped by the council's key; clearing shreds it."""

    PURPOSE = "dialog"

    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def _index(self, account: str) -> bytes:
        return self._k.index.digest("account", account.lower())

    async def get(self, account: str, *, now: datetime) -> DialogState | None:
        bidx = self._index(account)
        row = await self._s.get(Dialog, bidx)
        if row is None:
            return None
        if aware(row.expires_at) <= now:
            await self.clear(account)
            return None
        try:
            dek = await self._ks.data_key(row.dek_id, self.PURPOSE, bidx.hex())
        except KeyMissingError:
            await self.clear(account)
            return None
        data = json.loads(dek.decrypt_text(row.data_ct, ad=ad("dialogs", "data", bidx.hex())))
        return DialogState(row.flow, row.state, data, aware(row.expires_at))

    async def save(
        self,
        account: str,
        *,
        flow: str,
        state: str,
        data: dict[str, Any],
        expires_at: datetime,
        remind_at: datetime | None = None,
    ) -> None:
        """``remind_at`` asks the timers to nudge the person once before expiry; the
        account is then kept too (encrypted with the draft's key) to know whom to nudge."""
        bidx = self._index(account)
        row = await self._s.get(Dialog, bidx)
        if row is not None:
            dek = await self._ks.data_key(row.dek_id, self.PURPOSE, bidx.hex())
            dek_id = row.dek_id
        else:
            council = await self._s.scalar(select(Cell.id).where(Cell.kind == "council"))
            if council is None:
                raise RuntimeError("no council cell: the network is not enrolled yet")
            dek_id, dek = await self._ks.new_data_key(council, self.PURPOSE, bidx.hex())
        blob = dek.encrypt_text(
            json.dumps(data, ensure_ascii=False), ad=ad("dialogs", "data", bidx.hex())
        )
        account_ct = None
        if remind_at is not None:
            account_ct = dek.encrypt_text(account, ad=ad("dialogs", "account", bidx.hex()))
        if row is None:
            row = Dialog(account_bidx=bidx, flow=flow, state=state, dek_id=dek_id, data_ct=blob)
            self._s.add(row)
        row.flow, row.state, row.data_ct, row.expires_at = flow, state, blob, expires_at
        row.remind_at, row.account_ct = remind_at, account_ct
        await self._s.flush()

    async def due(self, *, now: datetime, limit: int = 50) -> list[DueDialog]:
        """Drafts whose reminder is due or that expired while their person was away.

        Only drafts that asked for a reminder carry an account; the others expire
        silently (and are removed here all the same, so nothing outlives its expiry).
        """
        rows = (
            await self._s.scalars(
                select(Dialog)
                .where((Dialog.remind_at <= now) | (Dialog.expires_at <= now))
                .limit(limit)
            )
        ).all()
        found = []
        for row in rows:
            account = None
            if row.account_ct is not None:
                try:
                    dek = await self._ks.data_key(row.dek_id, self.PURPOSE, row.account_bidx.hex())
                except KeyMissingError:
                    dek = None
                if dek is not None:
                    account = dek.decrypt_text(
                        row.account_ct, ad=ad("dialogs", "account", row.account_bidx.hex())
                    )
            expired = aware(row.expires_at) <= now
            found.append(DueDialog(row.account_bidx, account, row.flow, expired))
        return found

    async def reminded(self, account: str) -> None:
        await self._s.execute(
            update(Dialog).where(Dialog.account_bidx == self._index(account)).values(remind_at=None)
        )

    async def clear_index(self, bidx: bytes) -> None:
        """Remove an expired draft found by :meth:`due` (which may have no account)."""
        row = await self._s.get(Dialog, bidx)
        if row is None:
            return
        await self._ks.shred(row.dek_id)
        await self._s.execute(delete(Dialog).where(Dialog.account_bidx == bidx))

    async def clear(self, account: str) -> None:
        bidx = self._index(account)
        row = await self._s.get(Dialog, bidx)
        if row is None:
            return
        await self._ks.shred(row.dek_id)
        await self._s.execute(delete(Dialog).where(Dialog.account_bidx == bidx))


class JournalRepository:
    """Works sealed (``keys`` None: write-only) and unsealed."""

    KEEP_TOMBSTONES = timedelta(hours=48)

    def __init__(self, session: AsyncSession, sealer: BacklogSealer, keys: Keyring | None) -> None:
        self._s = session
        self._sealer = sealer
        self._k = keys

    def _key(self, keys: Keyring, account: str, signal_timestamp: int) -> bytes:
        return keys.index.digest("inbound", f"{account.lower()}|{signal_timestamp}")

    async def record(
        self, account: str, signal_timestamp: int, kind: str, body: dict[str, Any]
    ) -> int | None:
        """Write the message down sealed; None if this exact message was seen before.

        A sealed process cannot compute the keyed duplicate check; duplicates among its
        entries are dropped when the backlog is opened (:meth:`pending`).
        """
        key = None
        if self._k is not None:
            key = self._key(self._k, account, signal_timestamp)
            if await self._s.scalar(
                select(InboundJournal.id).where(InboundJournal.dedupe_key == key)
            ):
                return None
        payload = json.dumps(
            {"account": account, "ts": signal_timestamp, **body}, ensure_ascii=False
        ).encode("utf-8")
        row = InboundJournal(
            dedupe_key=key,
            kind=kind,
            sealed_ct=self._sealer.seal(payload, info=_INFO),
            received_at=utcnow().replace(minute=0, second=0, microsecond=0),
        )
        self._s.add(row)
        await self._s.flush()
        return row.id

    async def pending(self, *, limit: int = 100) -> list[JournalEntry]:
        """The oldest unhandled entries, opened; duplicates found now become tombstones."""
        if self._k is None:
            raise RuntimeError("the journal can only be read unsealed")
        rows = (
            await self._s.scalars(
                select(InboundJournal)
                .where(InboundJournal.sealed_ct.is_not(None))
                .order_by(InboundJournal.id)
                .limit(limit)
            )
        ).all()
        entries = []
        for row in rows:
            assert row.sealed_ct is not None
            body = json.loads(self._k.backlog.open(row.sealed_ct, info=_INFO))
            account = body.pop("account")
            if row.dedupe_key is None:
                key = self._key(self._k, account, int(body.get("ts", 0)))
                seen = await self._s.scalar(
                    select(InboundJournal.id).where(InboundJournal.dedupe_key == key)
                )
                if seen is not None:
                    await self._s.execute(delete(InboundJournal).where(InboundJournal.id == row.id))
                    continue
                row.dedupe_key = key
                await self._s.flush()
            entries.append(JournalEntry(row.id, account, row.kind, body))
        return entries

    async def claim(self, entry_id: int) -> bool:
        """True if the entry still waits to be handled (checked inside the handling tx)."""
        found = await self._s.scalar(
            select(InboundJournal.id).where(
                InboundJournal.id == entry_id, InboundJournal.sealed_ct.is_not(None)
            )
        )
        return found is not None

    async def done(self, entry_id: int) -> None:
        """Erase the body, keep the tombstone that stops a replay."""
        await self._s.execute(
            update(InboundJournal).where(InboundJournal.id == entry_id).values(sealed_ct=None)
        )

    async def count_pending(self) -> int:
        rows = await self._s.scalars(
            select(InboundJournal.id).where(InboundJournal.sealed_ct.is_not(None))
        )
        return len(rows.all())

    async def prune(self, *, now: datetime) -> int:
        result = await self._s.execute(
            delete(InboundJournal).where(
                InboundJournal.sealed_ct.is_(None),
                InboundJournal.received_at < now - self.KEEP_TOMBSTONES,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
