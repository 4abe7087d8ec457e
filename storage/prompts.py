"""Escalation prompts to coordinators: the only code that reads or writes them.

Everything a prompt says (question and option ids, the values that fill them, the chain
of coordinators, who was asked, who decided) is in ``body_ct`` under a data key of the
council cell, the coordinators' compartment.  Plain columns are what the timers need:
kind, subject id, status, step and deadlines.  The prompt's ref (``P7K2``) and the
occasion that opened it are stored only as keyed hashes, and so is every coordinator
asked (``prompt_asks``), so a bare ``1`` finds its prompt with one indexed query.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from security.codes import normalise_code
from storage.common import ad, aware
from storage.keystore import KeyMissingError, KeyStore
from storage.models import Prompt, PromptAsk

PURPOSE = "prompt"
OPEN = "open"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_LEN = 4


def new_prompt_ref() -> str:
    """``P`` and 4 unambiguous symbols (20 bits): typed on a phone by a coordinator,
    meaningless to anyone else (an outsider typing one gets the usual reply)."""
    return "P" + "".join(secrets.choice(_ALPHABET) for _ in range(REF_LEN))


def normalise_prompt_ref(raw: str) -> str | None:
    """``p-7k2`` -> ``P7K2``; None if it cannot be a prompt ref."""
    norm = normalise_code(raw)
    if len(norm) != REF_LEN + 1 or norm[0] != "P":
        return None
    return norm if all(ch in _ALPHABET for ch in norm[1:]) else None


@dataclass(frozen=True)
class PromptView:
    id: str
    ref: str
    kind: str
    subject_id: str
    status: str  # open | decided | defaulted | void
    mode: str  # chain | all
    step: int
    step_deadline: datetime
    deadline: datetime
    created_at: datetime
    step_seconds: int
    question: str
    values: dict[str, Any]
    options: list[str]
    default: int  # 1-based
    chain: list[str]  # member ids, in the order they are asked
    asked: list[str]  # member ids asked so far
    option: int | None = None  # the decision (1-based), once made
    decided_by: str | None = None  # handle; None when the default applied
    decided_at: datetime | None = None


class PromptRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    # --- indexes ---------------------------------------------------------------------

    def _ref_index(self, ref: str) -> bytes:
        return self._k.index.digest("prompt", ref)

    def _trigger_index(self, kind: str, subject_id: str, occasion: str) -> bytes:
        return self._k.index.digest("prompt-trigger", f"{kind}|{subject_id}|{occasion}")

    def _asked_index(self, member_id: str) -> bytes:
        return self._k.index.digest("asked", member_id)

    def _rank(self, prompt_id: str, member_id: str) -> bytes:
        return self._k.index.digest("prompt-chain", f"{prompt_id}|{member_id}")

    # --- bodies ----------------------------------------------------------------------

    async def _dek(self, row: Prompt) -> FieldCipher:
        return await self._ks.data_key(row.dek_id, PURPOSE, row.id)

    async def _body(self, row: Prompt) -> dict[str, Any]:
        dek = await self._dek(row)
        body: dict[str, Any] = json.loads(
            dek.decrypt_text(row.body_ct, ad=ad("prompts", "body", row.id))
        )
        return body

    async def _seal(self, row: Prompt, body: dict[str, Any]) -> None:
        dek = await self._dek(row)
        row.body_ct = dek.encrypt_text(
            json.dumps(body, ensure_ascii=False), ad=ad("prompts", "body", row.id)
        )
        await self._s.flush()

    async def _view(self, row: Prompt) -> PromptView | None:
        try:
            body = await self._body(row)
        except KeyMissingError:
            return None
        decision = body.get("decision") or {}
        return PromptView(
            id=row.id,
            ref=body["ref"],
            kind=row.kind,
            subject_id=row.subject_id,
            status=row.status,
            mode=row.mode,
            step=row.step,
            step_deadline=aware(row.step_deadline),
            deadline=aware(row.deadline),
            created_at=aware(row.created_at),
            step_seconds=int(body["step_seconds"]),
            question=body["question"],
            values=body["values"],
            options=body["options"],
            default=int(body["default"]),
            chain=body["chain"],
            asked=body["asked"],
            option=decision.get("option"),
            decided_by=decision.get("handle"),
            decided_at=datetime.fromisoformat(decision["at"]) if decision else None,
        )

    # --- prompts ---------------------------------------------------------------------

    async def create(
        self,
        council_id: str,
        *,
        kind: str,
        subject_id: str,
        occasion: str,
        question: str,
        values: dict[str, Any],
        options: list[str],
        default: int,
        coordinators: list[str],
        mode: str,
        step_seconds: int,
        step_deadline: datetime,
        deadline: datetime,
        now: datetime,
    ) -> PromptView | None:
        """A new open prompt, or None if this kind+subject+occasion already had one.

        The chain is ``coordinators`` sorted by a keyed hash of prompt id and member id:
        a different first coordinator from one prompt to the next, known to nobody.
        """
        trigger = self._trigger_index(kind, subject_id, occasion)
        if await self._s.scalar(select(Prompt.id).where(Prompt.trigger_bidx == trigger)):
            return None
        prompt_id = secrets.token_hex(16)
        ref = new_prompt_ref()
        while await self._s.scalar(
            select(Prompt.id).where(Prompt.ref_bidx == self._ref_index(ref))
        ):
            ref = new_prompt_ref()
        chain = sorted(coordinators, key=lambda member_id: self._rank(prompt_id, member_id))
        dek_id, _dek = await self._ks.new_data_key(council_id, PURPOSE, prompt_id)
        row = Prompt(
            id=prompt_id,
            ref_bidx=self._ref_index(ref),
            trigger_bidx=trigger,
            kind=kind,
            subject_id=subject_id,
            dek_id=dek_id,
            body_ct=b"",
            status=OPEN,
            mode=mode,
            step=0,
            step_deadline=step_deadline,
            deadline=deadline,
            created_at=now,
        )
        self._s.add(row)
        body = {
            "ref": ref,
            "question": question,
            "values": values,
            "options": options,
            "default": default,
            "step_seconds": step_seconds,
            "chain": chain,
            "asked": [],
            "decision": None,
        }
        await self._seal(row, body)
        return await self._view(row)

    async def by_ref(self, ref: str, *, lock: bool = False) -> PromptView | None:
        query = select(Prompt).where(Prompt.ref_bidx == self._ref_index(ref))
        row = await self._s.scalar(query.with_for_update() if lock else query)
        return None if row is None else await self._view(row)

    async def by_id(self, prompt_id: str, *, lock: bool = False) -> PromptView | None:
        query = select(Prompt).where(Prompt.id == prompt_id)
        row = await self._s.scalar(query.with_for_update() if lock else query)
        return None if row is None else await self._view(row)

    async def asked_open(self, member_id: str, *, limit: int = 10) -> list[PromptView]:
        """Open prompts this coordinator was asked, most recently asked first."""
        rows = await self._s.scalars(
            select(Prompt)
            .join(PromptAsk, PromptAsk.prompt_id == Prompt.id)
            .where(PromptAsk.member_bidx == self._asked_index(member_id), Prompt.status == OPEN)
            .order_by(PromptAsk.asked_at.desc(), Prompt.id)
            .limit(limit)
        )
        return [v for row in rows.all() if (v := await self._view(row)) is not None]

    async def last_asked(self, member_id: str) -> PromptView | None:
        """The prompt this coordinator was asked most recently, whatever its status."""
        row = await self._s.scalar(
            select(Prompt)
            .join(PromptAsk, PromptAsk.prompt_id == Prompt.id)
            .where(PromptAsk.member_bidx == self._asked_index(member_id))
            .order_by(PromptAsk.asked_at.desc(), Prompt.id)
            .limit(1)
        )
        return None if row is None else await self._view(row)

    async def asked(self, prompt_id: str, member_id: str, *, now: datetime) -> None:
        """Record that ``member_id`` has been asked (or answered unasked, by ref)."""
        row = await self._s.get(Prompt, prompt_id)
        if row is None:
            return
        body = await self._body(row)
        if member_id in body["asked"]:
            return
        body["asked"].append(member_id)
        await self._seal(row, body)
        self._s.add(
            PromptAsk(prompt_id=prompt_id, member_bidx=self._asked_index(member_id), asked_at=now)
        )
        await self._s.flush()

    async def advance(self, prompt_id: str, *, step: int, step_deadline: datetime) -> None:
        await self._s.execute(
            update(Prompt)
            .where(Prompt.id == prompt_id)
            .values(step=step, step_deadline=step_deadline)
        )

    async def decide(
        self, prompt_id: str, *, option: int, handle: str | None, now: datetime
    ) -> None:
        """Close the prompt: ``decided`` by ``handle``, or ``defaulted`` when None."""
        row = await self._s.get(Prompt, prompt_id)
        if row is None:
            return
        body = await self._body(row)
        body["decision"] = {"option": option, "handle": handle, "at": now.isoformat()}
        row.status = "defaulted" if handle is None else "decided"
        await self._seal(row, body)

    async def due(self, *, now: datetime, limit: int = 200) -> list[str]:
        """Open prompts whose current step has run out (indexed on status, step_deadline)."""
        rows = await self._s.scalars(
            select(Prompt.id)
            .where(Prompt.status == OPEN, Prompt.step_deadline <= now)
            .order_by(Prompt.step_deadline)
            .limit(limit)
        )
        return list(rows.all())
