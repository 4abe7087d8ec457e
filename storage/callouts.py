"""Call-outs: the only code that reads or writes what an action is, where it is, and who
was asked and answered.

Each call-out has its own data key, wrapped by the key of the organizing cell.  What,
where (the secret place), the role slots, the audience, the linked case's ref and step,
who called it and its history are in ``body_ct`` under that key; shredding the key
destroys all of it, answers included (member ids are encrypted under it too).  Plain
columns are only what the timers need: status and deadlines (to the minute) and
progress flags.  The call-out's short id (``K7Q2M9``) is stored only as a keyed hash.

People asked are in ``callout_members`` (see :mod:`storage.callout_answers`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from security.codes import normalise_code
from storage.callout_answers import CalloutAnswers
from storage.callout_audience import Audience, AudienceQueries
from storage.common import ad, aware
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Callout

__all__ = ["Audience", "CalloutRepository", "CalloutTimes", "CalloutView", "Slot"]

PURPOSE = "callout"
OPEN = ("sending", "sent")  # delivered (or being delivered): people may answer
LIVE = ("scheduled", "sending", "sent")
REF_LEN = 6
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


def new_callout_ref() -> str:
    """Six unambiguous symbols (30 bits): typed on a phone, not walkable under the rate
    limit, and a random one answers exactly like another cell's real one."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(REF_LEN))


def normalise_callout_ref(raw: str) -> str | None:
    """``k7q2-m9`` -> ``K7Q2M9``; None if it cannot be a call-out id."""
    norm = normalise_code(raw)
    if len(norm) != REF_LEN or any(ch not in _ALPHABET for ch in norm):
        return None
    return norm


@dataclass(frozen=True)
class Slot:
    name: str  # as the organizer typed it
    need: int
    role: str | None = None  # the catalogue role it matched: offered in rotation first


@dataclass(frozen=True)
class CalloutView:
    id: str
    ref: str
    cell_id: str
    case_id: str | None
    what: str
    where: str
    starts_at: datetime
    send_at: datetime
    reveal_at: datetime
    status: str  # scheduled | sending | sent | cancelled | done
    wanted: int
    slots: tuple[Slot, ...] = ()
    widened: tuple[int, ...] = ()  # role slots open to everyone asked (rotation is over)
    audience: Audience = field(default_factory=Audience)
    case_ref: str | None = None
    rung: str = ""
    created_by: str = ""
    expand_cursor: str | None = None
    reminders_done: int = 0
    revealed: bool = False
    nudged: bool = False
    checks_done: int = 0


@dataclass(frozen=True)
class CalloutTimes:
    """What a sweep needs to decide what is due, read without decrypting."""

    id: str
    status: str
    send_at: datetime
    starts_at: datetime
    reveal_at: datetime
    reminders_done: int
    revealed: bool
    nudged: bool
    checks_done: int


class CalloutRepository(CalloutAnswers, AudienceQueries):
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        super().__init__(session, keys, keystore)

    def _ref_index(self, ref: str) -> bytes:
        return self._k.index.digest("callout", ref)

    @staticmethod
    def _seal(dek: FieldCipher, callout_id: str, body: dict[str, Any]) -> bytes:
        return dek.encrypt_text(
            json.dumps(body, ensure_ascii=False), ad=ad("callouts", "body", callout_id)
        )

    async def _body(self, row: Callout) -> dict[str, Any]:
        dek = await self._dek(row)
        data: dict[str, Any] = json.loads(
            dek.decrypt_text(row.body_ct, ad=ad("callouts", "body", row.id))
        )
        return data

    async def _view(self, row: Callout) -> CalloutView | None:
        try:
            body = await self._body(row)
        except KeyMissingError:
            return None  # shredded: the same as gone
        return CalloutView(
            id=row.id,
            ref=body["ref"],
            cell_id=row.cell_id,
            case_id=row.case_id,
            what=body["what"],
            where=body["where"],
            starts_at=aware(row.starts_at),
            send_at=aware(row.send_at),
            reveal_at=aware(row.reveal_at),
            status=row.status,
            wanted=int(body["wanted"]),
            slots=tuple(
                Slot(str(slot[0]), int(slot[1]), slot[2] if len(slot) > 2 else None)
                for slot in body.get("slots", [])
            ),
            widened=tuple(int(i) for i in body.get("widened", [])),
            audience=Audience.from_json(body.get("audience", {})),
            case_ref=body.get("case_ref"),
            rung=str(body.get("rung") or ""),
            created_by=str(body.get("created_by", "")),
            expand_cursor=row.expand_cursor,
            reminders_done=row.reminders_done,
            revealed=row.revealed,
            nudged=row.nudged,
            checks_done=row.checks_done,
        )

    # --- creating and reading -------------------------------------------------------

    async def create(
        self,
        cell_id: str,
        *,
        what: str,
        where: str,
        wanted: int,
        slots: list[Slot],
        audience: Audience,
        starts_at: datetime,
        reveal_at: datetime,
        send_at: datetime,
        status: str,
        created_by: str,
        now: datetime,
        case_id: str | None = None,
        case_ref: str | None = None,
        rung: str = "",
    ) -> CalloutView:
        callout_id = secrets.token_hex(16)
        ref = new_callout_ref()
        while await self.locate(ref) is not None:
            ref = new_callout_ref()
        dek_id, dek = await self._ks.new_data_key(cell_id, PURPOSE, callout_id)
        body = {
            "ref": ref,
            "what": what,
            "where": where,
            "wanted": wanted,
            "slots": [[s.name, s.need, s.role] for s in slots],
            "audience": audience.to_json(),
            "case_ref": case_ref,
            "rung": rung,
            "created_by": created_by,
            "created_at": now.isoformat(),
            "history": [[now.isoformat(), created_by, "created"]],
        }
        row = Callout(
            id=callout_id,
            ref_bidx=self._ref_index(ref),
            cell_id=cell_id,
            case_id=case_id,
            dek_id=dek_id,
            body_ct=self._seal(dek, callout_id, body),
            status=status,
            send_at=send_at,
            starts_at=starts_at,
            reveal_at=reveal_at,
            expand_cursor=None,
            reminders_done=0,
            revealed=False,
            nudged=False,
            checks_done=0,
            debriefed=False,
            changed_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        view = await self._view(row)
        assert view is not None
        return view

    async def locate(self, ref: str) -> tuple[str, str] | None:
        """(call-out id, organizing cell id) without decrypting: access is checked first."""
        found = (
            await self._s.execute(
                select(Callout.id, Callout.cell_id).where(Callout.ref_bidx == self._ref_index(ref))
            )
        ).first()
        return None if found is None else (str(found[0]), str(found[1]))

    async def by_id(self, callout_id: str, *, lock: bool = False) -> CalloutView | None:
        query = select(Callout).where(Callout.id == callout_id)
        if lock:
            query = query.with_for_update()
        row = await self._s.scalar(query)
        return None if row is None else await self._view(row)

    async def view(self, callout_id: str) -> CalloutView | None:
        return await self.by_id(callout_id)

    async def views(self, callout_ids: list[str]) -> list[CalloutView]:
        """These call-outs, soonest first."""
        if not callout_ids:
            return []
        rows = await self._s.scalars(
            select(Callout).where(Callout.id.in_(callout_ids)).order_by(Callout.starts_at)
        )
        return [v for row in rows.all() if (v := await self._view(row)) is not None]

    async def of_cells(self, cell_ids: list[str], *, limit: int = 20) -> list[CalloutView]:
        """Live call-outs of these cells, soonest first."""
        if not cell_ids:
            return []
        ids = await self._s.scalars(
            select(Callout.id)
            .where(Callout.cell_id.in_(cell_ids), Callout.status.in_(LIVE))
            .order_by(Callout.starts_at)
            .limit(limit)
        )
        return await self.views(list(ids.all()))

    # --- changing -------------------------------------------------------------------

    async def set_columns(self, callout_id: str, *, now: datetime, **values: Any) -> None:
        """Plain columns: status, times, cursor, progress flags."""
        await self._s.execute(
            update(Callout).where(Callout.id == callout_id).values(changed_at=now, **values)
        )

    async def update_body(
        self, callout_id: str, *, who: str, event: str, now: datetime, **fields: Any
    ) -> None:
        """Replace top-level fields of the encrypted body and add a history line."""
        row = await self._s.get(Callout, callout_id)
        if row is None:
            return
        body = await self._body(row)
        body.update(fields)
        body.setdefault("history", []).append([now.isoformat(), who, event])
        row.body_ct = self._seal(await self._dek(row), callout_id, body)
        await self._s.flush()

    # --- for the timers (plain columns only) ----------------------------------------

    async def due_to_send(self, *, now: datetime, limit: int = 200) -> list[str]:
        rows = await self._s.scalars(
            select(Callout.id)
            .where(Callout.status == "scheduled", Callout.send_at <= now)
            .order_by(Callout.send_at)
            .limit(limit)
        )
        return list(rows.all())

    async def expanding(self, *, limit: int = 200) -> list[str]:
        rows = await self._s.scalars(
            select(Callout.id)
            .where(Callout.status == "sending")
            .order_by(Callout.send_at)
            .limit(limit)
        )
        return list(rows.all())

    async def active(self, *, until: datetime, limit: int = 200) -> list[CalloutTimes]:
        """Delivered call-outs starting before ``until`` (or already started)."""
        rows = await self._s.scalars(
            select(Callout)
            .where(Callout.status.in_(OPEN), Callout.starts_at <= until)
            .order_by(Callout.starts_at)
            .limit(limit)
        )
        return [self._times(r) for r in rows.all()]

    async def times_of(self, callout_id: str) -> CalloutTimes | None:
        row = await self._s.get(Callout, callout_id, populate_existing=True)
        return None if row is None else self._times(row)

    @staticmethod
    def _times(row: Callout) -> CalloutTimes:
        return CalloutTimes(
            id=row.id,
            status=row.status,
            send_at=aware(row.send_at),
            starts_at=aware(row.starts_at),
            reveal_at=aware(row.reveal_at),
            reminders_done=row.reminders_done,
            revealed=row.revealed,
            nudged=row.nudged,
            checks_done=row.checks_done,
        )
