"""The outbox: every outbound message, persisted before it is sent.

One row per recipient message.  The body (recipient account, text, timer, need-to-know
flag, call-out tag) is encrypted with the outbox key and bound to its row id; it becomes
NULL as soon as the message is sent, withheld or given up, leaving a tombstone with a
state (for progress counts) that :meth:`OutboxRepository.prune` deletes later.

States: ``queued`` -> ``sending`` (claimed by one sender, conditional UPDATE) -> ``sent`` |
``failed`` | ``withheld``, or back to ``queued`` with a later ``not_before`` to retry.

``delivery_state`` (one row, id ``signal``) is the bot account's standing with Signal:
a global back-off after a plain 429 and the token of a pending captcha challenge.  It is
plain on purpose: the operator's CLI solves a captcha without keys.  Everything the CLI
reads (counts, pause, challenge) works with ``keys=None``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from storage.common import ad, aware
from storage.models import DeliveryState, OutboxMessage

QUEUED, SENDING, SENT, FAILED, WITHHELD = "queued", "sending", "sent", "failed", "withheld"
WITHDRAWN = "withdrawn"  # no longer true (a cancelled call-out): never sent
DONE_STATES = (SENT, FAILED, WITHHELD, WITHDRAWN)
_STANDING_ID = "signal"


class OutgoingLike(Protocol):
    """What :meth:`OutboxRepository.enqueue` reads from :class:`bot.context.Outgoing`."""

    @property
    def account(self) -> str: ...
    @property
    def text(self) -> str | None: ...
    @property
    def timer_seconds(self) -> int | None: ...
    @property
    def sensitive(self) -> bool: ...
    @property
    def priority(self) -> int: ...
    @property
    def batch(self) -> str | None: ...
    @property
    def tag(self) -> str | None: ...


@dataclass(frozen=True)
class OutboxItem:
    """A claimed row, decrypted: what to send to whom."""

    id: int
    priority: int
    attempts: int
    account: str
    text: str | None
    timer: int | None
    sensitive: bool
    tag: str | None


@dataclass(frozen=True)
class DueRow:
    id: int
    priority: int


@dataclass(frozen=True)
class OutboxProgress:
    """A fan-out's delivery so far; ``queued`` includes messages being sent right now."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    withheld: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed + self.withheld


@dataclass(frozen=True)
class Standing:
    """The bot account's standing with Signal (delivery_state), all plain."""

    paused_until: datetime | None = None
    challenge: str | None = None
    challenged_at: datetime | None = None
    backoff_seconds: int = 0


def claimed_item(row_id: int, item: OutgoingLike) -> OutboxItem:
    """What a row enqueued as claimed holds, from the item itself (nothing to decrypt)."""
    return OutboxItem(
        id=row_id,
        priority=item.priority,
        attempts=0,
        account=item.account,
        text=item.text,
        timer=item.timer_seconds,
        sensitive=bool(item.sensitive),
        tag=item.tag,
    )


def _body_ad(row_id: int) -> bytes:
    return ad("outbox", "body_ct", str(row_id))


class OutboxRepository:
    """``keys`` may be None for the key-less parts (counts, standing, reset, prune)."""

    def __init__(self, session: AsyncSession, keys: Keyring | None) -> None:
        self._s = session
        self._k = keys

    def _keys(self) -> Keyring:
        if self._k is None:
            raise RuntimeError("the outbox bodies need keys")
        return self._k

    # --- writing ---------------------------------------------------------------------

    async def enqueue(
        self,
        items: Sequence[OutgoingLike],
        *,
        now: datetime,
        claim: Callable[[OutgoingLike], bool] | None = None,
    ) -> list[int]:
        """One row per item (a :class:`bot.context.Outgoing`), ids in the items' order.

        Two statements whatever the count: insert the rows, then set each encrypted body
        (its associated data binds it to the row id, which the insert gave us).  Items
        ``claim`` picks are written already 'sending': the caller sends them itself right
        after commit (:func:`claimed_item`), sparing a read and a claim; a crash before
        that leaves them to :meth:`reset_inflight` at the next start, like any claim.
        """
        if not items:
            return []
        cipher = self._keys().outbox
        rows = [
            {
                "batch": item.batch,
                "priority": item.priority,
                "state": SENDING if claim is not None and claim(item) else QUEUED,
                "not_before": now,
                "attempts": 0,
                "created_at": now,
            }
            for item in items
        ]
        result = await self._s.execute(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows
        )
        ids = [int(i) for i in result.scalars().all()]
        bodies = []
        for row_id, item in zip(ids, items, strict=True):
            body = {
                "account": item.account,
                "text": item.text,
                "timer": item.timer_seconds,
                "sensitive": bool(item.sensitive),
                "tag": item.tag,
            }
            plain = json.dumps(body, ensure_ascii=False).encode("utf-8")
            bodies.append({"id": row_id, "body_ct": cipher.encrypt(plain, ad=_body_ad(row_id))})
        await self._s.execute(update(OutboxMessage), bodies)
        return ids

    async def claim(self, row_id: int) -> OutboxItem | None:
        """queued -> sending, if nobody else claimed it; the decrypted row, or None."""
        result = await self._s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.state == QUEUED)
            .values(state=SENDING)
        )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return None
        row = (
            await self._s.execute(
                select(OutboxMessage.priority, OutboxMessage.attempts, OutboxMessage.body_ct).where(
                    OutboxMessage.id == row_id
                )
            )
        ).one()
        priority, attempts, blob = row
        if blob is None:  # cannot happen for a queued row; never send an empty body
            raise RuntimeError("queued outbox row without a body")
        body = json.loads(self._keys().outbox.decrypt(blob, ad=_body_ad(row_id)))
        return OutboxItem(
            id=row_id,
            priority=int(priority),
            attempts=int(attempts),
            account=str(body["account"]),
            text=body.get("text"),
            timer=body.get("timer"),
            sensitive=bool(body.get("sensitive")),
            tag=body.get("tag"),
        )

    async def _finish(self, row_id: int, state: str, now: datetime, reason: str | None) -> None:
        await self._s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(state=state, body_ct=None, done_at=now, reason=reason)
        )

    async def mark_sent(self, row_id: int, *, now: datetime) -> None:
        await self._finish(row_id, SENT, now, None)

    async def fail(self, row_id: int, reason: str, *, now: datetime) -> None:
        await self._finish(row_id, FAILED, now, reason[:32])

    async def withheld(self, row_id: int, *, now: datetime) -> None:
        await self._finish(row_id, WITHHELD, now, "quarantined")

    async def retry(
        self, row_id: int, *, not_before: datetime, reason: str, counted: bool = True
    ) -> None:
        """Back to the queue, not before ``not_before``; ``counted`` adds one attempt."""
        values: dict[str, Any] = {"state": QUEUED, "not_before": not_before, "reason": reason[:32]}
        if counted:
            values["attempts"] = OutboxMessage.attempts + 1
        await self._s.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values)
        )

    async def withdraw(self, batch: str, *, now: datetime) -> int:
        """Drop a batch's messages not yet sent (a call-out cancelled mid-fan-out must not
        keep inviting people); rows being sent right now still go.  How many."""
        result = await self._s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.batch == batch, OutboxMessage.state == QUEUED)
            .values(state=WITHDRAWN, body_ct=None, done_at=now, reason=WITHDRAWN)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def requeue(self, ids: list[int]) -> None:
        """Claimed rows that will not be sent now go back to the queue."""
        await self._s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.state == SENDING)
            .values(state=QUEUED)
        )

    async def sending_ids(self, *, limit: int = 1000) -> list[int]:
        """Rows marked 'sending' (in flight, or left so by a write that failed)."""
        rows = await self._s.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == SENDING)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [int(i) for i in rows.all()]

    async def reset_inflight(self) -> int:
        """Rows a crash left 'sending' go back to the queue (at process start only)."""
        result = await self._s.execute(
            update(OutboxMessage).where(OutboxMessage.state == SENDING).values(state=QUEUED)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def prune(self, *, before: datetime) -> int:
        """Delete tombstones finished before ``before``."""
        result = await self._s.execute(
            delete(OutboxMessage).where(
                OutboxMessage.state.in_(DONE_STATES), OutboxMessage.done_at < before
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- reading ---------------------------------------------------------------------

    async def due(self, *, now: datetime, limit: int = 20) -> list[DueRow]:
        """The next queued rows whose time has come: lowest priority first, then FIFO."""
        rows = await self._s.execute(
            select(OutboxMessage.id, OutboxMessage.priority)
            .where(OutboxMessage.state == QUEUED, OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(limit)
        )
        return [DueRow(int(i), int(p)) for i, p in rows.all()]

    async def queued_of(self, ids: list[int]) -> list[DueRow]:
        """Of these rows, the ones still queued, in id order (the fast path's flush)."""
        if not ids:
            return []
        rows = await self._s.execute(
            select(OutboxMessage.id, OutboxMessage.priority)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.state == QUEUED)
            .order_by(OutboxMessage.id)
        )
        return [DueRow(int(i), int(p)) for i, p in rows.all()]

    async def waiting_ahead(self, priority: int, *, before: int, now: datetime) -> bool:
        """Is a due row older than id ``before``, as or more urgent than ``priority``,
        still queued?  (Retries do not hold the line: each waits on its own back-off.)"""
        found = await self._s.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state == QUEUED,
                OutboxMessage.priority <= priority,
                OutboxMessage.not_before <= now,
                OutboxMessage.attempts == 0,
                OutboxMessage.id < before,
            )
            .limit(1)
        )
        return found is not None

    async def next_due(self) -> datetime | None:
        """When the earliest queued row may go (for the sender's sleep)."""
        found = await self._s.scalar(
            select(func.min(OutboxMessage.not_before)).where(OutboxMessage.state == QUEUED)
        )
        return None if found is None else aware(found)

    async def progress(self, batch: str) -> OutboxProgress:
        rows = await self._s.execute(
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.batch == batch)
            .group_by(OutboxMessage.state)
        )
        counts = {str(state): int(n) for state, n in rows.all()}
        return OutboxProgress(
            queued=counts.get(QUEUED, 0) + counts.get(SENDING, 0),
            sent=counts.get(SENT, 0),
            failed=counts.get(FAILED, 0),
            withheld=counts.get(WITHHELD, 0),
        )

    async def backlog(self, priority: int) -> int:
        """Queued (or sending) rows that go before or with a row of ``priority``."""
        found = await self._s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state.in_((QUEUED, SENDING)), OutboxMessage.priority <= priority)
        )
        return int(found or 0)

    async def counts(self) -> dict[tuple[str, int], int]:
        """(state, priority) -> rows, for the operator's ``lantern outbox``."""
        rows = await self._s.execute(
            select(OutboxMessage.state, OutboxMessage.priority, func.count()).group_by(
                OutboxMessage.state, OutboxMessage.priority
            )
        )
        return {(str(s), int(p)): int(n) for s, p, n in rows.all()}

    # --- the account's standing with Signal ------------------------------------------

    async def standing(self) -> Standing:
        row = await self._s.get(DeliveryState, _STANDING_ID)
        if row is None:
            return Standing()
        return Standing(
            paused_until=None if row.paused_until is None else aware(row.paused_until),
            challenge=row.challenge_token,
            challenged_at=None if row.challenged_at is None else aware(row.challenged_at),
            backoff_seconds=int(row.backoff_seconds or 0),
        )

    async def paused_until(self) -> datetime | None:
        return (await self.standing()).paused_until

    async def challenge(self) -> str | None:
        return (await self.standing()).challenge

    async def _row(self) -> DeliveryState:
        row = await self._s.get(DeliveryState, _STANDING_ID, with_for_update=True)
        if row is None:
            row = DeliveryState(id=_STANDING_ID, backoff_seconds=0)
            self._s.add(row)
            await self._s.flush()
        return row

    async def set_challenge(self, token: str, *, now: datetime) -> bool:
        """Record a captcha challenge; True if none was pending (tell people once)."""
        row = await self._row()
        fresh = row.challenge_token is None
        row.challenge_token = token[:200]
        if fresh:
            row.challenged_at = now
        await self._s.flush()
        return fresh

    async def probed(self, *, now: datetime) -> None:
        """A send was tried while challenged: the next try waits a full interval."""
        row = await self._row()
        row.challenged_at = now
        await self._s.flush()

    async def clear_challenge(self, token: str | None = None) -> bool:
        """Forget the pending challenge (only if it is still ``token``, when given)."""
        query = update(DeliveryState).where(
            DeliveryState.id == _STANDING_ID, DeliveryState.challenge_token.is_not(None)
        )
        if token is not None:
            query = query.where(DeliveryState.challenge_token == token)
        result = await self._s.execute(query.values(challenge_token=None, challenged_at=None))
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def back_off(self, *, now: datetime, seconds: float) -> datetime:
        """A plain 429: pause every send for ``seconds`` (the sender doubles it each time;
        ``backoff_seconds`` keeps it, rounded up, so a restart goes on doubling)."""
        row = await self._row()
        row.backoff_seconds = max(1, math.ceil(seconds))
        until = now + timedelta(seconds=seconds)
        row.paused_until = until
        await self._s.flush()
        return until

    async def clear_backoff(self) -> None:
        await self._s.execute(
            update(DeliveryState)
            .where(DeliveryState.id == _STANDING_ID)
            .values(paused_until=None, backoff_seconds=0)
        )
