"""Who a call-out was sent to and what they answered (``callout_members``), and which
delivered message was which call-out (``sent_refs``, so a reaction can be an answer).

A row's key is a keyed hash of the member id in a domain of its own ("attendee"): it
links one person's answers across call-outs without pointing at a member row.  The
member id itself is encrypted under the call-out's data key (associated data binds the
call-out and the row), for reminders and the reveal.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from storage.common import ad
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Callout, CalloutMember, SentRef

PURPOSE = "callout"
OPEN = ("sending", "sent")


@dataclass(frozen=True)
class AnswerView:
    answer: str | None  # yes | no | maybe | None (not answered yet)
    slot: int | None  # index of the role slot taken
    revealed: bool  # the place was sent to this person


class CalloutAnswers:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def _member_index(self, member_id: str) -> bytes:
        return self._k.index.digest("attendee", member_id)

    async def _dek(self, row: Callout) -> FieldCipher:
        return await self._ks.data_key(row.dek_id, PURPOSE, row.id)

    async def _dek_of(self, callout_id: str) -> FieldCipher | None:
        row = await self._s.get(Callout, callout_id)
        if row is None:
            return None
        try:
            return await self._dek(row)
        except KeyMissingError:
            return None

    @staticmethod
    def _member_ad(callout_id: str, bidx: bytes) -> bytes:
        return ad("callout_members", "member", callout_id, bidx.hex())

    # --- asking ---------------------------------------------------------------------

    async def add_members(self, callout_id: str, member_ids: list[str]) -> list[str]:
        """Record these people as asked; the ids not asked before (in the given order).
        The primary key makes a second expansion of the same people a no-op."""
        dek = await self._dek_of(callout_id)
        if dek is None or not member_ids:
            return []
        by_index = {self._member_index(m): m for m in member_ids}
        existing = set(
            (
                await self._s.scalars(
                    select(CalloutMember.member_bidx).where(
                        CalloutMember.callout_id == callout_id,
                        CalloutMember.member_bidx.in_(list(by_index)),
                    )
                )
            ).all()
        )
        fresh = [m for bidx, m in by_index.items() if bidx not in existing]
        for member_id in fresh:
            bidx = self._member_index(member_id)
            self._s.add(
                CalloutMember(
                    callout_id=callout_id,
                    member_bidx=bidx,
                    member_ct=dek.encrypt_text(member_id, ad=self._member_ad(callout_id, bidx)),
                    revealed=False,
                )
            )
        await self._s.flush()
        return fresh

    async def asked_count(self, callout_id: str) -> int:
        found = await self._s.scalar(
            select(func.count())
            .select_from(CalloutMember)
            .where(CalloutMember.callout_id == callout_id)
        )
        return int(found or 0)

    # --- answers --------------------------------------------------------------------

    async def answer_row(self, callout_id: str, member_id: str) -> AnswerView | None:
        """None when this person was not asked (never told whether the call-out exists)."""
        row = await self._s.get(CalloutMember, (callout_id, self._member_index(member_id)))
        return None if row is None else AnswerView(row.answer, row.slot, row.revealed)

    async def answer_of(self, callout_id: str, member_id: str) -> str | None:
        found = await self.answer_row(callout_id, member_id)
        return None if found is None else found.answer

    async def set_answer(
        self, callout_id: str, member_id: str, *, answer: str, slot: int | None, now: datetime
    ) -> None:
        await self._s.execute(
            update(CalloutMember)
            .where(
                CalloutMember.callout_id == callout_id,
                CalloutMember.member_bidx == self._member_index(member_id),
            )
            .values(answer=answer, slot=slot, answered_at=now)
        )

    async def tally(self, callout_ids: list[str]) -> dict[str, Counter[str]]:
        """Per call-out: how many answered yes, maybe, no, and ``none`` (not yet)."""
        if not callout_ids:
            return {}
        rows = await self._s.execute(
            select(CalloutMember.callout_id, CalloutMember.answer, func.count())
            .where(CalloutMember.callout_id.in_(callout_ids))
            .group_by(CalloutMember.callout_id, CalloutMember.answer)
        )
        counts: dict[str, Counter[str]] = {cid: Counter() for cid in callout_ids}
        for callout_id, answer, n in rows.all():
            counts[str(callout_id)][str(answer or "none")] += int(n)
        return counts

    async def slots_taken(self, callout_id: str) -> Counter[int]:
        """People who said yes, per role slot index."""
        rows = await self._s.execute(
            select(CalloutMember.slot, func.count())
            .where(
                CalloutMember.callout_id == callout_id,
                CalloutMember.answer == "yes",
                CalloutMember.slot.is_not(None),
            )
            .group_by(CalloutMember.slot)
        )
        return Counter({int(slot): int(n) for slot, n in rows.all()})

    async def member_ids(
        self,
        callout_id: str,
        *,
        answers: tuple[str, ...] | None = None,
        unrevealed: bool = False,
        limit: int | None = None,
    ) -> list[str]:
        """Member ids of people asked (who answered one of ``answers``; only those not
        yet sent the place with ``unrevealed``)."""
        dek = await self._dek_of(callout_id)
        if dek is None:
            return []
        query = select(CalloutMember).where(CalloutMember.callout_id == callout_id)
        if answers is not None:
            query = query.where(CalloutMember.answer.in_(answers))
        if unrevealed:
            query = query.where(CalloutMember.revealed.is_(False))
        query = query.order_by(CalloutMember.member_bidx)
        if limit is not None:
            query = query.limit(limit)
        rows = (await self._s.scalars(query)).all()
        return [
            dek.decrypt_text(r.member_ct, ad=self._member_ad(callout_id, r.member_bidx))
            for r in rows
        ]

    async def confirmed_member_ids(self, callout_id: str) -> list[str]:
        return await self.member_ids(callout_id, answers=("yes",))

    async def mark_revealed(self, callout_id: str, member_ids: list[str]) -> None:
        if not member_ids:
            return
        await self._s.execute(
            update(CalloutMember)
            .where(
                CalloutMember.callout_id == callout_id,
                CalloutMember.member_bidx.in_([self._member_index(m) for m in member_ids]),
            )
            .values(revealed=True)
        )

    async def record_attendance(self, callout_id: str) -> None:
        """At the start: attended = said yes (and nothing else)."""
        await self._s.execute(
            update(CalloutMember)
            .where(CalloutMember.callout_id == callout_id)
            .values(attended=case((CalloutMember.answer == "yes", True), else_=False))
        )

    async def open_for(self, member_id: str, *, limit: int = 20) -> list[tuple[str, AnswerView]]:
        """(call-out id, my answer) of delivered call-outs I was asked to, soonest first."""
        rows = await self._s.execute(
            select(CalloutMember.callout_id, CalloutMember)
            .join(Callout, Callout.id == CalloutMember.callout_id)
            .where(
                CalloutMember.member_bidx == self._member_index(member_id),
                Callout.status.in_(OPEN),
            )
            .order_by(Callout.starts_at)
            .limit(limit)
        )
        return [(str(cid), AnswerView(r.answer, r.slot, r.revealed)) for cid, r in rows.all()]

    # --- reactions ------------------------------------------------------------------

    def _sent_index(self, account: str, timestamp: int) -> bytes:
        return self._k.index.digest("sent", f"{account.lower()}|{timestamp}")

    async def remember_sent(
        self, account: str, timestamp: int, callout_id: str, *, now: datetime
    ) -> None:
        """The delivered message ``(account, timestamp)`` was this call-out."""
        bidx = self._sent_index(account, timestamp)
        if await self._s.get(SentRef, bidx) is None:
            self._s.add(SentRef(ref_bidx=bidx, callout_id=callout_id, created_at=now))
            await self._s.flush()

    async def ref_for_reaction(self, account: str, timestamp: int) -> str | None:
        """The call-out's ref if that message was a call-out still open for answers."""
        found = await self._s.get(SentRef, self._sent_index(account, timestamp))
        if found is None:
            return None
        row = await self._s.get(Callout, found.callout_id)
        if row is None or row.status not in OPEN:
            return None
        try:
            dek = await self._dek(row)
        except KeyMissingError:
            return None
        body = json.loads(dek.decrypt_text(row.body_ct, ad=ad("callouts", "body", row.id)))
        return str(body["ref"])

    async def forget_sent(self, callout_id: str) -> None:
        """Once an action is over, reactions to its messages mean nothing any more."""
        await self._s.execute(delete(SentRef).where(SentRef.callout_id == callout_id))
