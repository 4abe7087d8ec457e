"""The participation covenant's invitations and answers (issue 6).

A row says: the subject of one closed fight was invited to give solidarity in the next,
what they answered, and whether they have given it since.  It holds no plaintext: the
case is a keyed hash of its id ("covenant-case" domain: once per case, even after the
case is shredded) and the subject a keyed hash of their Signal account in a domain of its
own ("covenant"), so a cold copy links it neither to a case row (whose subject hash is in
the "subject" domain) nor to a member row ("account" domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from storage.keystore import KeyStore
from storage.models import Covenant

SUBJECT = "covenant"
CASE = "covenant-case"


@dataclass(frozen=True)
class CovenantCounts:
    """What a cell sees of its covenant: counts only."""

    invited: int
    said_yes: int
    gave: int


@dataclass(frozen=True)
class OpenInvitation:
    case_bidx: bytes
    cell_id: str


class CovenantRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def subject_index(self, account: str) -> bytes:
        return self._k.index.digest(SUBJECT, account.lower())

    def case_index(self, case_id: str) -> bytes:
        return self._k.index.digest(CASE, case_id)

    async def invite(self, *, case_id: str, cell_id: str, account: str, now: datetime) -> bool:
        """Record the invitation; False if this case's subject was invited already (the
        primary key on the case hash: a second close or a re-run of the hook, even one
        racing this one, inserts nothing)."""
        values = {
            "case_bidx": self.case_index(case_id),
            "cell_id": cell_id,
            "subject_bidx": self.subject_index(account),
            "invited_at": now,
        }
        dialect = self._s.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        result = await self._s.execute(
            insert(Covenant).values(**values).on_conflict_do_nothing(index_elements=["case_bidx"])
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def said_not_now(self, account: str) -> bool:
        """Did this person ever answer NOT NOW?  They were promised not to be asked again."""
        found = await self._s.scalar(
            select(Covenant.case_bidx)
            .where(Covenant.subject_bidx == self.subject_index(account), Covenant.answer == "later")
            .limit(1)
        )
        return found is not None

    async def open_for(self, account: str) -> list[OpenInvitation]:
        """Invitations this person has not answered, newest first (one indexed query)."""
        rows = await self._s.execute(
            select(Covenant.case_bidx, Covenant.cell_id)
            .where(Covenant.subject_bidx == self.subject_index(account), Covenant.answer.is_(None))
            .order_by(Covenant.invited_at.desc())
        )
        return [OpenInvitation(bytes(b), str(c)) for b, c in rows.all()]

    async def answer(self, account: str, answer: str, *, now: datetime) -> None:
        """``yes`` or ``later`` for every open invitation of this person: one answer
        covers them all (they are one person, deciding once)."""
        await self._s.execute(
            update(Covenant)
            .where(Covenant.subject_bidx == self.subject_index(account), Covenant.answer.is_(None))
            .values(answer=answer, answered_at=now)
        )

    async def gave(self, account: str, *, now: datetime) -> int:
        """The person signed up for a role or said yes to a call-out: every invitation of
        theirs not yet marked counts as given.  One UPDATE on the indexed subject hash; it
        runs on every yes, so it must stay this cheap."""
        result = await self._s.execute(
            update(Covenant)
            .where(Covenant.subject_bidx == self.subject_index(account), Covenant.gave_at.is_(None))
            .values(gave_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def counts(self, cell_id: str) -> CovenantCounts:
        """Invited, said yes, gave since — for one cell (indexed by cell)."""
        row = (
            await self._s.execute(
                select(
                    func.count(),
                    func.count().filter(Covenant.answer == "yes"),
                    func.count().filter(Covenant.gave_at.is_not(None)),
                ).where(Covenant.cell_id == cell_id)
            )
        ).one()
        return CovenantCounts(int(row[0]), int(row[1]), int(row[2]))
