"""Fair rotation: who served when, and role slots offered to one person at a time.

"Served" is read from the call-out answers themselves (``callout_members``: a YES to a
call-out that was not cancelled, dated by its start), by keyed hash ("attendee" domain),
so nothing new about a person is stored to order them.  An offer row names its person
the same way: a keyed hash plus the member id under the call-out's data key — a cold
copy cannot link an offer to a member row, and shredding the call-out's key makes its
offers unreadable with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from storage.common import ad, aware
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Callout, CalloutMember, SlotOffer

PURPOSE = "callout"
OFFERED, TAKEN, PASSED, EXPIRED = "offered", "taken", "passed", "expired"


@dataclass(frozen=True)
class Served:
    """A role holder's record: the start of the last action they said yes to (None:
    never), and how many such actions since the window's start."""

    last: datetime | None
    count: int


@dataclass(frozen=True)
class Answered:
    answer: str | None
    slot: int | None


class RotationRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def digest(self, member_id: str) -> bytes:
        return self._k.index.digest("attendee", member_id)

    async def _dek(self, callout_id: str) -> FieldCipher | None:
        row = await self._s.get(Callout, callout_id)
        if row is None:
            return None
        try:
            return await self._ks.data_key(row.dek_id, PURPOSE, row.id)
        except KeyMissingError:
            return None

    @staticmethod
    def _member_ad(callout_id: str, slot: int, bidx: bytes) -> bytes:
        return ad("slot_offers", "member", callout_id, str(slot), bidx.hex())

    # --- history ---------------------------------------------------------------------

    async def served(
        self, member_ids: list[str], *, since: datetime, besides: str
    ) -> dict[str, Served]:
        """One grouped query over these people's YES answers (an index on member_bidx):
        the cost follows the number of holders asked about, never the network.  The
        call-out being filled (``besides``) is left out: a plain YES to it must not make
        someone look as if they had just had their turn."""
        if not member_ids:
            return {}
        by_digest = {self.digest(m): m for m in member_ids}
        rows = await self._s.execute(
            select(
                CalloutMember.member_bidx,
                func.max(Callout.starts_at),
                func.count().filter(Callout.starts_at >= since),
            )
            .join(Callout, Callout.id == CalloutMember.callout_id)
            .where(
                CalloutMember.member_bidx.in_(list(by_digest)),
                CalloutMember.answer == "yes",
                CalloutMember.callout_id != besides,
                Callout.status != "cancelled",
            )
            .group_by(CalloutMember.member_bidx)
        )
        found = {by_digest[b]: Served(aware(last), int(n)) for b, last, n in rows.all()}
        return {m: found.get(m, Served(None, 0)) for m in member_ids}

    async def answered(self, callout_id: str, member_ids: list[str]) -> dict[str, Answered]:
        """What these people answered to this call-out (absent: not asked yet)."""
        if not member_ids:
            return {}
        by_digest = {self.digest(m): m for m in member_ids}
        rows = await self._s.execute(
            select(CalloutMember.member_bidx, CalloutMember.answer, CalloutMember.slot).where(
                CalloutMember.callout_id == callout_id,
                CalloutMember.member_bidx.in_(list(by_digest)),
            )
        )
        return {by_digest[b]: Answered(a, s) for b, a, s in rows.all()}

    # --- offers ----------------------------------------------------------------------

    async def offer(
        self, callout_id: str, slot: int, member_id: str, *, now: datetime, until: datetime
    ) -> bool:
        dek = await self._dek(callout_id)
        if dek is None:
            return False
        bidx = self.digest(member_id)
        self._s.add(
            SlotOffer(
                callout_id=callout_id,
                slot=slot,
                member_bidx=bidx,
                member_ct=dek.encrypt_text(member_id, ad=self._member_ad(callout_id, slot, bidx)),
                state=OFFERED,
                offered_at=now,
                expires_at=until,
            )
        )
        await self._s.flush()
        return True

    async def ever_offered(self, callout_id: str, slot: int) -> set[bytes]:
        """Keyed hashes of everyone this slot was offered to, whatever they did."""
        rows = await self._s.scalars(
            select(SlotOffer.member_bidx).where(
                SlotOffer.callout_id == callout_id, SlotOffer.slot == slot
            )
        )
        return set(rows.all())

    async def outstanding(self, callout_id: str) -> Counter[int]:
        """Offers still waiting for an answer, per slot: places held for those people."""
        rows = await self._s.execute(
            select(SlotOffer.slot, func.count())
            .where(SlotOffer.callout_id == callout_id, SlotOffer.state == OFFERED)
            .group_by(SlotOffer.slot)
        )
        return Counter({int(slot): int(n) for slot, n in rows.all()})

    async def held_until(self, callout_id: str, slot: int) -> datetime | None:
        found = await self._s.scalar(
            select(func.max(SlotOffer.expires_at)).where(
                SlotOffer.callout_id == callout_id,
                SlotOffer.slot == slot,
                SlotOffer.state == OFFERED,
            )
        )
        return None if found is None else aware(found)

    async def offered_to(self, callout_id: str, member_id: str) -> set[int]:
        """Slots offered to this person and still waiting for their answer."""
        rows = await self._s.scalars(
            select(SlotOffer.slot).where(
                SlotOffer.callout_id == callout_id,
                SlotOffer.member_bidx == self.digest(member_id),
                SlotOffer.state == OFFERED,
            )
        )
        return set(rows.all())

    async def settle(self, callout_id: str, member_id: str, slots: set[int], state: str) -> None:
        """This person's open offers of these slots become ``state`` (taken, passed)."""
        if not slots:
            return
        await self._s.execute(
            update(SlotOffer)
            .where(
                SlotOffer.callout_id == callout_id,
                SlotOffer.member_bidx == self.digest(member_id),
                SlotOffer.slot.in_(sorted(slots)),
                SlotOffer.state == OFFERED,
            )
            .values(state=state)
        )

    async def due(self, *, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
        """(call-out, slot) with an offer that ran out (index on state, expires_at)."""
        rows = await self._s.execute(
            select(SlotOffer.callout_id, SlotOffer.slot)
            .where(SlotOffer.state == OFFERED, SlotOffer.expires_at <= now)
            .distinct()
            .limit(limit)
        )
        return [(str(c), int(s)) for c, s in rows.all()]

    async def expire(self, callout_id: str, slot: int, *, now: datetime) -> int:
        """Offers of this slot that ran out become ``expired``; how many (0: another tick
        or an answer got there first)."""
        result = await self._s.execute(
            update(SlotOffer)
            .where(
                SlotOffer.callout_id == callout_id,
                SlotOffer.slot == slot,
                SlotOffer.state == OFFERED,
                SlotOffer.expires_at <= now,
            )
            .values(state=EXPIRED)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def close_all(self, callout_id: str) -> None:
        """A cancelled call-out offers nothing any more."""
        await self._s.execute(
            update(SlotOffer)
            .where(SlotOffer.callout_id == callout_id, SlotOffer.state == OFFERED)
            .values(state=EXPIRED)
        )

    async def counts(self, callout_id: str) -> Counter[tuple[int, str]]:
        """(slot, state) -> offers, for the organizer's STATUS and the sample script."""
        rows = await self._s.execute(
            select(SlotOffer.slot, SlotOffer.state, func.count())
            .where(SlotOffer.callout_id == callout_id)
            .group_by(SlotOffer.slot, SlotOffer.state)
        )
        return Counter({(int(s), str(st)): int(n) for s, st, n in rows.all()})
