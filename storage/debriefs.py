"""Debriefs after an action, and attendance.

Each debrief (turnout, what was won, skills gained, new leaders, how people are doing,
and who wrote it) is one row of ``debriefs``, encrypted under the *call-out's* data key
(wrapped by the organizing cell's key), with the row id and the call-out id in the
associated data: shredding the call-out's key shreds its debriefs, and a debrief copied
to another row or call-out does not decrypt.

Attendance (for role rotation, the Roles issue): ``callout_members.attended`` is set when
the debriefs are asked for (to "said yes", where nothing set it before), and
:meth:`DebriefRepository.attendance` counts a person's attended actions through the
keyed hash ``member_bidx = keys.index.digest("attendee", member_id)`` without decrypting
anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from storage.common import ad, aware
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Callout, CalloutMember, Debrief

PURPOSE = "callout"  # the call-out's own data key (storage/callouts.py)
AFTER = ("sent", "done")  # delivered actions; never cancelled ones
SHOWN = 20  # newest debriefs read back at once


@dataclass(frozen=True)
class DebriefView:
    id: int
    handle: str  # who wrote it (never an account)
    organizer: bool
    turnout: int | None  # organizers only
    won: str
    skills: str
    leaders: str
    wellbeing: str
    at: datetime


class DebriefRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    @staticmethod
    def _ad(callout_id: str, debrief_id: int) -> bytes:
        return ad("debriefs", "body", callout_id, str(debrief_id))

    def _attendee_index(self, member_id: str) -> bytes:
        return self._k.index.digest("attendee", member_id)

    async def _dek(self, callout_id: str) -> FieldCipher | None:
        row = await self._s.get(Callout, callout_id)
        if row is None:
            return None
        try:
            return await self._ks.data_key(row.dek_id, PURPOSE, row.id)
        except KeyMissingError:
            return None  # shredded

    # --- asking (the sweep; plain columns only) ---------------------------------------

    async def due(self, *, now: datetime, hours: float, limit: int = 200) -> list[str]:
        """Delivered call-outs that started ``hours`` ago or more and were not asked yet."""
        rows = await self._s.scalars(
            select(Callout.id)
            .where(
                Callout.status.in_(AFTER),
                Callout.starts_at <= now - timedelta(hours=hours),
                ~Callout.debriefed,
            )
            .order_by(Callout.starts_at)
            .limit(limit)
        )
        return list(rows.all())

    async def claim(self, callout_id: str, *, now: datetime) -> datetime | None:
        """Mark the call-out as asked; its start time if this transaction did it (a
        concurrent tick waits on the row and then finds it done), else None."""
        result = await self._s.execute(
            update(Callout)
            .where(Callout.id == callout_id, Callout.status.in_(AFTER), ~Callout.debriefed)
            .values(debriefed=True, changed_at=now)
            .returning(Callout.starts_at)
        )
        found = result.scalar_one_or_none()
        return None if found is None else aware(found)

    async def settle_attendance(self, callout_id: str) -> None:
        """attended = said yes, where nothing recorded attendance before."""
        await self._s.execute(
            update(CalloutMember)
            .where(CalloutMember.callout_id == callout_id, CalloutMember.attended.is_(None))
            .values(attended=case((CalloutMember.answer == "yes", True), else_=False))
        )

    async def attendance(self, member_id: str, *, since: datetime) -> int:
        """How many actions starting at or after ``since`` this member attended."""
        found = await self._s.scalar(
            select(func.count())
            .select_from(CalloutMember)
            .join(Callout, Callout.id == CalloutMember.callout_id)
            .where(
                CalloutMember.member_bidx == self._attendee_index(member_id),
                CalloutMember.attended.is_(True),
                Callout.starts_at >= since,
            )
        )
        return int(found or 0)

    # --- writing and reading ------------------------------------------------------------

    async def add(
        self,
        callout_id: str,
        *,
        author_id: str,
        handle: str,
        organizer: bool,
        answers: dict[str, Any],
        now: datetime,
    ) -> bool | None:
        """Store one person's debrief, replacing theirs if they sent one before.
        True if it replaced one, False if new, None if the call-out is gone."""
        dek = await self._dek(callout_id)
        if dek is None:
            return None
        replaced = False
        for row, body in await self._rows(callout_id, dek):
            if body.get("author") == author_id:
                await self._s.execute(delete(Debrief).where(Debrief.id == row.id))
                replaced = True
        row = Debrief(callout_id=callout_id, body_ct=b"")
        self._s.add(row)
        await self._s.flush()  # the id goes into the associated data
        body = {
            "author": author_id,
            "handle": handle,
            "organizer": organizer,
            "at": now.isoformat(),
            **answers,
        }
        row.body_ct = dek.encrypt_text(
            json.dumps(body, ensure_ascii=False), ad=self._ad(callout_id, row.id)
        )
        await self._s.flush()
        return replaced

    async def of_callout(self, callout_id: str, *, limit: int = SHOWN) -> list[DebriefView]:
        """The newest ``limit`` debriefs of a call-out, oldest first."""
        dek = await self._dek(callout_id)
        if dek is None:
            return []
        found = await self._rows(callout_id, dek, limit=limit)
        return [_view(row.id, body) for row, body in reversed(found)]

    async def count(self, callout_id: str) -> int:
        found = await self._s.scalar(
            select(func.count()).select_from(Debrief).where(Debrief.callout_id == callout_id)
        )
        return int(found or 0)

    async def _rows(
        self, callout_id: str, dek: FieldCipher, *, limit: int | None = None
    ) -> list[tuple[Debrief, dict[str, Any]]]:
        query = select(Debrief).where(Debrief.callout_id == callout_id).order_by(Debrief.id.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = (await self._s.scalars(query)).all()
        return [
            (row, json.loads(dek.decrypt_text(row.body_ct, ad=self._ad(callout_id, row.id))))
            for row in rows
        ]


def _view(debrief_id: int, body: dict[str, Any]) -> DebriefView:
    turnout = body.get("turnout")
    return DebriefView(
        id=debrief_id,
        handle=str(body.get("handle", "")),
        organizer=bool(body.get("organizer")),
        turnout=None if turnout is None else int(turnout),
        won=str(body.get("won", "")),
        skills=str(body.get("skills", "")),
        leaders=str(body.get("leaders", "")),
        wellbeing=str(body.get("wellbeing", "")),
        at=datetime.fromisoformat(str(body["at"])),
    )
