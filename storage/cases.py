"""Cases: the only code that reads or writes what someone said about their fight.

Each case has its own data key, wrapped by the key of the cell it was routed to.  The
intake answers, the subject's account, name and language, the ladder, the assessment,
every history line and every ballot are encrypted with it, so :meth:`shred` (delete the
key, then the rows) destroys all of it at once, even in older copies whose keys are gone.

Case ids (``K7Q2-M9XP``) are stored only as a keyed hash; a person's cases are found by
a keyed hash of their account in a domain of its own, so a cold copy cannot link a case
to a member row.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from security.codes import new_case_ref
from storage.common import ad, aware
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Callout, Case, CaseEvent, CaseVote, Prompt

PURPOSE = "case"
CLOSED = "closed"


def hour(moment: datetime) -> datetime:
    """Plain timestamps are kept to the hour: enough for deadlines and staleness."""
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class CaseView:
    id: str
    ref: str
    cell_id: str
    status: str
    outcome: str | None
    rung: int
    keep: bool
    vote_deadline: datetime | None
    opened_at: datetime
    subject_account: str  # for relaying only: never shown to anyone
    subject_name: str
    subject_language: str
    answers: dict[str, str]
    ladder: list[str]
    assessment: dict[str, str] | None


@dataclass(frozen=True)
class CaseEventView:
    kind: str  # status | note | to_subject | from_subject | assessment | vote
    who: str
    text: str
    at: datetime
    before: str | None = None
    after: str | None = None


class CaseRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    # --- indexes ---------------------------------------------------------------------

    def _ref_index(self, ref: str) -> bytes:
        return self._k.index.digest("case", ref)

    def _subject_index(self, account: str) -> bytes:
        return self._k.index.digest("subject", account.lower())

    async def _dek(self, row: Case) -> FieldCipher:
        return await self._ks.data_key(row.dek_id, PURPOSE, row.id)

    async def _view(self, row: Case) -> CaseView:
        dek = await self._dek(row)
        body = json.loads(dek.decrypt_text(row.body_ct, ad=ad("cases", "body", row.id)))
        return CaseView(
            id=row.id,
            ref=body["ref"],
            cell_id=row.cell_id,
            status=row.status,
            outcome=row.outcome,
            rung=row.rung,
            keep=row.keep,
            vote_deadline=None if row.vote_deadline is None else aware(row.vote_deadline),
            opened_at=datetime.fromisoformat(body["opened_at"]),
            subject_account=body["subject"]["account"],
            subject_name=body["subject"]["name"],
            subject_language=body["subject"]["language"],
            answers=body["answers"],
            ladder=body.get("ladder", []),
            assessment=body.get("assessment"),
        )

    # --- cases -----------------------------------------------------------------------

    async def create(
        self,
        cell_id: str,
        *,
        subject_account: str,
        subject_name: str,
        language: str,
        answers: dict[str, str],
        now: datetime,
    ) -> CaseView:
        case_id = secrets.token_hex(16)
        ref = new_case_ref()
        while await self._s.scalar(select(Case.id).where(Case.ref_bidx == self._ref_index(ref))):
            ref = new_case_ref()
        dek_id, dek = await self._ks.new_data_key(cell_id, PURPOSE, case_id)
        body: dict[str, Any] = {
            "ref": ref,
            "opened_at": now.isoformat(),
            "subject": {"account": subject_account, "name": subject_name, "language": language},
            "answers": answers,
            "ladder": [],
            "assessment": None,
        }
        row = Case(
            id=case_id,
            ref_bidx=self._ref_index(ref),
            subject_bidx=self._subject_index(subject_account),
            cell_id=cell_id,
            dek_id=dek_id,
            body_ct=self._seal_body(dek, case_id, body),
            status="new",
            rung=0,
            changed_at=hour(now),
            keep=False,
        )
        self._s.add(row)
        await self._s.flush()
        return await self._view(row)

    @staticmethod
    def _seal_body(dek: FieldCipher, case_id: str, body: dict[str, Any]) -> bytes:
        return dek.encrypt_text(
            json.dumps(body, ensure_ascii=False), ad=ad("cases", "body", case_id)
        )

    async def by_ref(self, ref: str, *, lock: bool = False) -> CaseView | None:
        query = select(Case).where(Case.ref_bidx == self._ref_index(ref))
        if lock:
            query = query.with_for_update()
        row = await self._s.scalar(query)
        return None if row is None else await self._live_view(row)

    async def locate(self, ref: str) -> tuple[str, str] | None:
        """(case id, cell id) without decrypting anything: access is checked first."""
        row = (
            await self._s.execute(
                select(Case.id, Case.cell_id).where(Case.ref_bidx == self._ref_index(ref))
            )
        ).first()
        return None if row is None else (str(row[0]), str(row[1]))

    async def of_subject_by_ref(self, ref: str, account: str) -> CaseView | None:
        """The case with this id if ``account`` brought it (checked before decrypting)."""
        row = await self._s.scalar(
            select(Case).where(
                Case.ref_bidx == self._ref_index(ref),
                Case.subject_bidx == self._subject_index(account),
            )
        )
        return None if row is None else await self._live_view(row)

    async def by_id(self, case_id: str, *, lock: bool = False) -> CaseView | None:
        query = select(Case).where(Case.id == case_id)
        if lock:
            query = query.with_for_update()
        row = await self._s.scalar(query)
        return None if row is None else await self._live_view(row)

    async def _live_view(self, row: Case) -> CaseView | None:
        try:
            return await self._view(row)
        except KeyMissingError:
            return None  # shredded key, row not yet removed: the same as gone

    async def of_subject(self, account: str, *, limit: int = 20) -> list[CaseView]:
        rows = await self._s.scalars(
            select(Case)
            .where(Case.subject_bidx == self._subject_index(account))
            .order_by(Case.changed_at.desc())
            .limit(limit)
        )
        return [v for row in rows.all() if (v := await self._live_view(row)) is not None]

    async def queue(self, cell_ids: list[str], *, limit: int = 20) -> list[CaseView]:
        """Open cases of these cells, most recently changed first."""
        if not cell_ids:
            return []
        rows = await self._s.scalars(
            select(Case)
            .where(Case.cell_id.in_(cell_ids), Case.status != CLOSED)
            .order_by(Case.changed_at.desc(), Case.id)
            .limit(limit)
        )
        return [v for row in rows.all() if (v := await self._live_view(row)) is not None]

    async def least_busy(self, cell_ids: list[str]) -> str | None:
        """The cell with the fewest open cases (the first listed on a tie), in one query."""
        if not cell_ids:
            return None
        rows = await self._s.execute(
            select(Case.cell_id, func.count())
            .where(Case.cell_id.in_(cell_ids), Case.status != CLOSED)
            .group_by(Case.cell_id)
        )
        loads = {str(cell): int(n) for cell, n in rows.all()}
        return min(cell_ids, key=lambda cell: (loads.get(cell, 0), cell_ids.index(cell)))

    async def set_status(
        self, case_id: str, status: str, *, now: datetime, outcome: str | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status, "changed_at": hour(now)}
        if outcome is not None:
            values["outcome"] = outcome
        if status == CLOSED:
            values["closed_at"] = hour(now)
        if status != "voting":
            values["vote_deadline"] = None
        await self._s.execute(update(Case).where(Case.id == case_id).values(**values))

    async def open_vote(self, case_id: str, *, deadline: datetime, now: datetime) -> None:
        await self._s.execute(delete(CaseVote).where(CaseVote.case_id == case_id))
        await self._s.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(status="voting", vote_deadline=deadline, changed_at=hour(now))
        )

    async def set_rung(self, case_id: str, rung: int, *, now: datetime) -> None:
        await self._s.execute(
            update(Case).where(Case.id == case_id).values(rung=rung, changed_at=hour(now))
        )

    async def set_keep(self, case_id: str, keep: bool) -> None:
        await self._s.execute(update(Case).where(Case.id == case_id).values(keep=keep))

    async def update_body(self, case_id: str, **fields: Any) -> None:
        """Replace top-level fields of the encrypted body (``ladder``, ``assessment``)."""
        row = await self._s.get(Case, case_id)
        if row is None:
            return
        dek = await self._dek(row)
        body = json.loads(dek.decrypt_text(row.body_ct, ad=ad("cases", "body", row.id)))
        body.update(fields)
        row.body_ct = self._seal_body(dek, row.id, body)
        await self._s.flush()

    # --- history ---------------------------------------------------------------------

    async def add_event(
        self,
        case_id: str,
        kind: str,
        *,
        who: str,
        now: datetime,
        text: str = "",
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        row = await self._s.get(Case, case_id)
        if row is None:
            return
        dek = await self._dek(row)
        event = CaseEvent(case_id=case_id, body_ct=b"")
        self._s.add(event)
        await self._s.flush()  # the id goes into the associated data
        payload = {
            "kind": kind,
            "who": who,
            "text": text,
            "at": now.isoformat(),
            "before": before,
            "after": after,
        }
        event.body_ct = dek.encrypt_text(
            json.dumps(payload, ensure_ascii=False),
            ad=ad("case_events", "body", case_id, str(event.id)),
        )
        await self._s.flush()

    async def events(self, case_id: str, *, limit: int = 10) -> list[CaseEventView]:
        """The latest ``limit`` history lines, oldest first."""
        row = await self._s.get(Case, case_id)
        if row is None:
            return []
        dek = await self._dek(row)
        events = (
            await self._s.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id)
                .order_by(CaseEvent.id.desc())
                .limit(limit)
            )
        ).all()
        views = []
        for event in reversed(events):
            raw = dek.decrypt_text(
                event.body_ct, ad=ad("case_events", "body", case_id, str(event.id))
            )
            data = json.loads(raw)
            views.append(
                CaseEventView(
                    kind=data["kind"],
                    who=data["who"],
                    text=data["text"],
                    at=datetime.fromisoformat(data["at"]),
                    before=data.get("before"),
                    after=data.get("after"),
                )
            )
        return views

    # --- escalation triggers (plain columns only: nothing is decrypted here) -----------

    def _no_prompt_since(self, kind: str, since: datetime) -> Any:
        return ~(
            select(Prompt.id)
            .where(Prompt.subject_id == Case.id, Prompt.kind == kind, Prompt.created_at > since)
            .exists()
        )

    async def waiting(
        self, *, before: datetime, prompt_kind: str, since: datetime, limit: int = 50
    ) -> list[tuple[str, datetime]]:
        """(case id, changed_at) of cases in triage (new, assessing) unchanged since
        ``before`` about which no ``prompt_kind`` prompt was opened after ``since``."""
        rows = await self._s.execute(
            select(Case.id, Case.changed_at)
            .where(
                Case.status.in_(("new", "assessing")),
                Case.changed_at <= before,
                self._no_prompt_since(prompt_kind, since),
            )
            .order_by(Case.changed_at, Case.id)
            .limit(limit)
        )
        return [(str(i), aware(at)) for i, at in rows.all()]

    async def stalled(
        self, *, before: datetime, now: datetime, prompt_kind: str, since: datetime, limit: int = 50
    ) -> list[tuple[str, datetime]]:
        """(case id, last action) of campaigns (accepted, active), not paused, with no
        change and no call-out (cancelled ones aside) starting after ``before``, about
        which no ``prompt_kind`` prompt was opened after ``since``.  The last action is
        the later of the last change and the last call-out's start."""
        live = Callout.case_id == Case.id, Callout.status != "cancelled"
        last_callout = select(func.max(Callout.starts_at)).where(*live).scalar_subquery()
        rows = await self._s.execute(
            select(Case.id, Case.changed_at, last_callout)
            .where(
                Case.status.in_(("accepted", "active")),
                Case.changed_at <= before,
                (Case.paused_until.is_(None)) | (Case.paused_until <= now),
                ~select(Callout.id).where(*live, Callout.starts_at > before).exists(),
                self._no_prompt_since(prompt_kind, since),
            )
            .order_by(Case.changed_at, Case.id)
            .limit(limit)
        )
        return [
            (str(i), max(aware(at), aware(last)) if last is not None else aware(at))
            for i, at, last in rows.all()
        ]

    async def set_paused(self, case_id: str, until: datetime | None) -> None:
        """A deliberate pause of a campaign (bursts and pauses): no stall prompt until."""
        await self._s.execute(update(Case).where(Case.id == case_id).values(paused_until=until))

    async def changed_at(self, case_id: str) -> datetime | None:
        found = await self._s.scalar(select(Case.changed_at).where(Case.id == case_id))
        return None if found is None else aware(found)

    # --- end of life -----------------------------------------------------------------

    async def expired(self, *, before: datetime, limit: int = 50) -> list[str]:
        """Closed cases past retention that their cell did not keep."""
        rows = await self._s.scalars(
            select(Case.id)
            # literals, not parameters, so both planners can use the partial index
            .where(
                Case.status == literal_column(f"'{CLOSED}'"), Case.closed_at < before, ~Case.keep
            )
            .limit(limit)
        )
        return list(rows.all())

    async def shred(self, case_id: str) -> None:
        """Delete the case's data key first: from then on nothing of it (history,
        ballots) can be read."""
        row = await self._s.get(Case, case_id)
        if row is None:
            return
        await self._ks.shred(row.dek_id)
        await self._s.execute(delete(CaseVote).where(CaseVote.case_id == case_id))
        await self._s.execute(delete(CaseEvent).where(CaseEvent.case_id == case_id))
        await self._s.execute(delete(Case).where(Case.id == case_id))
