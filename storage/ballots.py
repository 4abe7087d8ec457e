"""Ballots in a cell's vote on a case.

A ballot is stored under a keyed hash of case and member (so a cold copy cannot tell who
voted, nor link one person's ballots across cases), its choice encrypted with the case's
own data key; ballots are erased at the count, and shredding the case's key makes any
left unreadable.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from storage.cases import PURPOSE
from storage.common import ad
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Case, CaseVote


class BallotRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def _voter_key(self, case_id: str, member_id: str) -> bytes:
        return self._k.index.digest("ballot", f"{case_id}|{member_id}")

    async def _dek(self, row: Case) -> FieldCipher:
        return await self._ks.data_key(row.dek_id, PURPOSE, row.id)

    # --- votes -----------------------------------------------------------------------

    async def cast(self, case_id: str, member_id: str, choice: str) -> bool:
        """Record or change a ballot; True if this member had voted before."""
        row = await self._s.get(Case, case_id)
        if row is None:
            raise KeyMissingError("case gone")
        dek = await self._dek(row)
        voter = self._voter_key(case_id, member_id)
        blob = dek.encrypt_text(choice, ad=ad("case_votes", "choice", case_id, voter.hex()))
        ballot = await self._s.get(CaseVote, (case_id, voter))
        if ballot is not None:
            ballot.choice_ct = blob
            await self._s.flush()
            return True
        self._s.add(CaseVote(case_id=case_id, voter_key=voter, choice_ct=blob))
        await self._s.flush()
        return False

    async def tally(self, case_id: str) -> Counter[str]:
        row = await self._s.get(Case, case_id)
        if row is None:
            return Counter()
        dek = await self._dek(row)
        ballots = (await self._s.scalars(select(CaseVote).where(CaseVote.case_id == case_id))).all()
        return Counter(
            dek.decrypt_text(b.choice_ct, ad=ad("case_votes", "choice", case_id, b.voter_key.hex()))
            for b in ballots
        )

    async def clear_votes(self, case_id: str) -> None:
        await self._s.execute(delete(CaseVote).where(CaseVote.case_id == case_id))

    async def due_votes(self, *, now: datetime, limit: int = 50) -> list[str]:
        rows = await self._s.scalars(
            select(Case.id)
            .where(Case.status == "voting", Case.vote_deadline <= now)
            .order_by(Case.vote_deadline)
            .limit(limit)
        )
        return list(rows.all())
