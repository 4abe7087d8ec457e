"""The sender: turns outbox rows into Signal messages, one recipient per request.

Every outbound message is written to the outbox in the same transaction as the change
that caused it (:mod:`storage.outbox`); this module sends it afterwards.

* **Rate limit**: an in-memory token bucket (``send_rate_per_second``, ``send_burst``).
  Replies (priority 0) never wait for it: they borrow, so the bucket may go negative (at
  most one minute's worth) and the bulk behind them slows down instead.
* **Order**: lower priority first, first in first out within a priority.
* **Three paths**: a plain reply (not need-to-know) is enqueued already claimed in the
  handler's own transaction and sent by :meth:`Outbox.send_claimed` straight after commit
  (one transaction, marking it sent, instead of three) unless Signal's 429 holds
  everything back; the dispatcher (and the timers) call :meth:`Outbox.flush` with the
  other ids they just committed — replies go at once, other rows only while the bucket
  has tokens and nothing older of the same urgency is waiting; a background loop sends
  the rest, woken by :meth:`Outbox.wake` or at the next retry time / token.
* **Captcha** (429 with a challenge token): the token is stored, all sending pauses
  (only replies to someone who just wrote are still tried, so a coordinator solving it
  hears back), coordinators are told the steps once (a direct attempt: Signal may refuse
  it too) and ``captcha_required`` is logged.  The loop re-reads ``delivery_state`` every
  few seconds (a captcha solved from the CLI is noticed quickly) and tries one message
  every ``20 × retry_base_seconds`` in case the challenge was lifted elsewhere.
* **Plain 429**: all sending pauses for a back-off doubling from ``retry_base_seconds``
  to ``retry_max_hours``, reset by a success.  Neither kind of 429 counts as an attempt.
* **Per row**: a per-recipient failure (``RATE_LIMIT_FAILURE``, network) or a 5xx /
  transport error retries that row after its own doubling back-off and counts; after
  ``send_max_attempts`` it is failed.  A changed safety number fails it (``identity``) and
  quarantines the person; an unregistered recipient fails it.
* **Need-to-know** rows are screened at send time: someone whose safety number is not
  the verified one gets one short notice instead, and the row is ``withheld``.

**Exactly once, and its one honest exception.**  A row is claimed (``queued`` ->
``sending``, a conditional UPDATE, so two senders never both send it), sent, and marked
``sent`` in a new transaction.  Claim, send and mark run in a task shielded from
cancellation, and :meth:`Outbox.stop` waits for those tasks: a stop never leaves a row sent
but unmarked.  A *hard* crash (power cut, SIGKILL) between the send and the mark leaves
that row ``sending``; Signal may or may not have it.  At the next start
:meth:`Outbox.recover` puts such rows back in the queue, so at most one message per
sender in flight at the crash may arrive twice (at-least-once for that single ambiguous
message); everything else is delivered exactly once.

While running, a *failed write* can strand a row the same way: a handler's commit whose
answer was lost (its replies were committed already claimed, but the handler counts as
failed and nobody sends them), or a "try again later" the database would not take.  None
of those rows was sent; :meth:`Outbox.sweep` (every minute) queues them again.  A row that
*was* sent but whose "sent" the database would not take is remembered in memory and
marked at the next sweep, never sent again (unless the process dies first: the crash case).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.context import REPLY
from bot.logging import get_logger
from bot.messenger import Messenger
from bot.outbox_rows import Outcome, RowSender, TokenBucket
from security import Keyring
from storage.db import Database
from storage.outbox import DueRow, OutboxItem, OutboxRepository, Standing

if TYPE_CHECKING:
    from bot.quarantine import Quarantine
    from bot.vault import Vault

log = get_logger("lantern.outbox")

BATCH = 20  # rows fetched per pass; priorities are re-read between passes
POLL_SECONDS = 2.0  # sealed, or a captcha pending: look again this often
IDLE_SECONDS = 30.0  # nothing due: look again at least this often
SWEEP_SECONDS = 60.0  # rows a failed write left 'sending': looked for this often


__all__ = ["Outbox", "Outcome", "TokenBucket"]


class Outbox:
    def __init__(
        self,
        *,
        db: Database,
        vault: Vault,
        settings: Settings,
        messenger: Messenger,
        quarantine: Quarantine,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._vault = vault
        self._settings = settings
        self._clock = clock
        self.bucket = TokenBucket(settings.send_rate_per_second, settings.send_burst)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._inflight: set[asyncio.Task[Outcome]] = set()
        self._suspects: set[int] = set()  # 'sending', unowned, at the last sweep
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self.rows = RowSender(
            db=db,
            settings=settings,
            messenger=messenger,
            quarantine=quarantine,
            clock=lambda: self._clock(),
            wake=self.wake,
        )

    # --- lifecycle -------------------------------------------------------------------

    async def recover(self) -> int:
        """At process start: rows a crash left 'sending' go back to the queue."""
        async with self._db.transaction() as session:
            repo = OutboxRepository(session, None)
            count = await repo.reset_inflight()
            self.rows.backoff = float((await repo.standing()).backoff_seconds)
        if count:
            log.warning("outbox_recovered", count=count)
        return count

    async def sweep(self) -> int:
        """Put back in the queue the rows a failed write left 'sending' while running.

        A row stays 'sending' with nobody to send it when a write fails: the handler's
        commit whose answer was lost (its replies were committed already claimed, and the
        handler counts as failed, so nobody sends them), or the write recording a failed
        try.  None of those rows was sent, so sending it now is not a second message.  A
        row *sent* whose "sent" would not be written is in :attr:`RowSender.unmarked`
        instead, and is marked sent here, never queued again.

        This process owns every row it has in flight (:attr:`RowSender.owned`, taken
        before the row is claimed, held until its outcome is written), so a 'sending' row
        outside it is an orphan.  It is put back only when two sweeps in a row found it
        so: one sweep can see a row just before its outcome is written and its owner let
        go.  Returns how many rows went back.
        """
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        if self.rows.unmarked and await self.rows.mark_unmarked() == 0:
            log.info("outbox_marked_late")
        async with self._db.transaction() as session:
            stuck = await OutboxRepository(session, None).sending_ids()
        orphans = set(stuck) - self.rows.owned - self.rows.unmarked
        again = orphans & self._suspects
        self._suspects = orphans - again
        if not again:
            return 0
        async with self._db.transaction() as session:
            await OutboxRepository(session, None).requeue(sorted(again - self.rows.owned))
        log.warning("outbox_recovered", count=len(again))
        self.wake()
        return len(again)

    def hold(self, ids: list[int]) -> None:
        """Rows the caller committed already claimed and will send (:meth:`send_claimed`)."""
        self.rows.owned.update(ids)

    def release(self, ids: list[int]) -> None:
        """Held rows the caller will not send after all (its commit failed)."""
        self.rows.owned.difference_update(ids)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
            self._task = asyncio.create_task(self._run())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Finish the message in hand (never cancelled mid-send), then stop."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        await self.settle()

    async def settle(self) -> None:
        """Wait for every shielded send still in flight (fast paths cancelled by a stop)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    # --- the fast path ---------------------------------------------------------------

    async def flush(self, ids: list[int]) -> int:
        """Send these just-committed rows now where allowed; the loop takes the rest.
        Never raises: what could not be sent here is the loop's to send."""
        keys = self._vault.keys
        if not ids or keys is None or self._stopping:
            return 0
        try:
            return await self._flush(ids, keys)
        except Exception as exc:
            log.error("outbox_flush_failed", error_type=type(exc).__name__)
            self.wake()
            return 0

    async def _flush(self, ids: list[int], keys: Keyring) -> int:
        now = self._clock()
        async with self._db.transaction() as session:
            repo = OutboxRepository(session, keys)
            standing = await repo.standing()
            rows = await repo.queued_of(ids)
            # older rows wait in line; this flush's own rows go in their order
            first = min(ids)
            ahead = {
                p: await repo.waiting_ahead(p, before=first, now=now)
                for p in {r.priority for r in rows if r.priority != REPLY}
            }
        sent, deferred, notified = 0, False, set[str]()
        if self._gate(standing, now) > 0:
            if standing.challenge is None:  # a plain 429: everything waits it out
                self.wake()
                return 0
            # a captcha: only replies try (Signal may still take them), so whoever is
            # talking to the bot — a coordinator solving the captcha — hears back
            deferred = len(rows) > sum(r.priority == REPLY for r in rows)
            rows = [r for r in rows if r.priority == REPLY]
        for row in rows:
            if self._vault.keys is not keys:  # sealed meanwhile: the rest waits for unseal
                break
            if row.priority == REPLY:
                self.bucket.borrow()
            elif ahead[row.priority] or deferred or not self.bucket.try_take():
                deferred = True
                continue
            outcome = await self._send(row.id, keys, notified)
            if outcome is Outcome.PAUSED:
                deferred = True
                break
            sent += outcome is Outcome.SENT
        if deferred:
            self.wake()
        return sent

    async def flush_due(self) -> int:
        """Send everything due now, waiting for the bucket as needed (tests, tools)."""
        sent = 0
        while (keys := self._vault.keys) is not None:
            progress, _wait = await self._pass(keys, wait_for_tokens=True)
            if progress is None:
                break
            sent += progress
        return sent

    # --- the loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            delay = POLL_SECONDS
            try:
                if time.monotonic() >= self._next_sweep:
                    await self.sweep()
                keys = self._vault.keys
                if keys is not None:
                    progress, wait = await self._pass(keys, wait_for_tokens=False)
                    delay = wait if progress is None else 0.0
            except Exception as exc:  # one bad row must not stop every message after it
                log.error("outbox_failed", error_type=type(exc).__name__)
            if delay > 0 and not self._stopping:
                delay = min(delay, max(0.01, self._next_sweep - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    async def _pass(self, keys: Keyring, *, wait_for_tokens: bool) -> tuple[int | None, float]:
        """One batch.  (sent, _) after progress; (None, seconds to wait) when idle."""
        now = self._clock()
        async with self._db.transaction() as session:
            repo = OutboxRepository(session, keys)
            standing = await repo.standing()
            gate = self._gate(standing, now)
            probe = gate > 0 and self._probe_due(standing, now)
            if gate > 0 and not probe:
                return None, gate
            batch = await repo.due(now=now, limit=1 if probe else BATCH)
            if not batch:
                later = await repo.next_due()
                wait = IDLE_SECONDS if later is None else (later - now).total_seconds()
                return None, max(0.01, min(wait, IDLE_SECONDS))
            if probe:
                await repo.probed(now=now)
        sent, notified = 0, set[str]()
        for row in batch:
            if self._stopping or self._vault.keys is not keys:  # stopping, or sealed (panic)
                break
            if not await self._take_token(row, wait_for_tokens):
                break
            outcome = await self._send(row.id, keys, notified)
            if outcome is Outcome.PAUSED:
                break
            if probe and outcome is Outcome.SENT:
                await self._lifted(standing)
            sent += outcome is Outcome.SENT
        return sent, 0.0

    async def _take_token(self, row: DueRow, wait_for_tokens: bool) -> bool:
        if row.priority == REPLY:
            self.bucket.borrow()
            return True
        wait = self.bucket.wait()
        if wait > 0:
            if wait_for_tokens:
                await asyncio.sleep(wait)
            else:
                with contextlib.suppress(TimeoutError):  # new work may outrank this row
                    await asyncio.wait_for(self._wake.wait(), wait)
                return False
        return self.bucket.try_take() or wait_for_tokens

    def _gate(self, standing: Standing, now: datetime) -> float:
        """Seconds until sending may resume (0: go)."""
        if standing.challenge is not None:
            return POLL_SECONDS
        if standing.paused_until is not None and standing.paused_until > now:
            return max(0.01, min((standing.paused_until - now).total_seconds(), IDLE_SECONDS))
        return 0.0

    def _probe_due(self, standing: Standing, now: datetime) -> bool:
        if standing.challenge is None:
            return False
        interval = timedelta(seconds=self._settings.retry_base_seconds * 20)
        return standing.challenged_at is None or standing.challenged_at + interval <= now

    async def _lifted(self, standing: Standing) -> None:
        """A probe went through: the challenge was lifted elsewhere."""
        async with self._db.transaction() as session:
            await OutboxRepository(session, None).clear_challenge(standing.challenge)
        log.warning("captcha_lifted")

    # --- one row ---------------------------------------------------------------------

    async def _send(self, row_id: int, keys: Keyring, notified: set[str]) -> Outcome:
        """Claim, send, record — shielded, so a cancelled caller never splits them."""
        return await self._shielded(self.rows.deliver(row_id, keys, notified))

    async def _shielded(self, work: Coroutine[Any, Any, Outcome]) -> Outcome:
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    def replies_may_go(self, standing: Standing, now: datetime) -> bool:
        """May a reply be sent the moment its transaction commits?  Not while Signal's
        429 holds everything back; during a captcha replies still try (see :meth:`_flush`)."""
        return self._gate(standing, now) <= 0 or standing.challenge is not None

    async def send_claimed(self, items: list[OutboxItem]) -> int:
        """Send replies the handler's own transaction enqueued already claimed.

        Per reply that is one transaction (marking it sent) instead of three (read,
        claim, mark): the benchmark showed the outbox taking about 40% of a command's
        time.  Sealed or stopping meanwhile, they go back to the queue for the loop.
        The caller held them (:meth:`hold`) before its commit; here they are let go.
        """
        try:
            return await self._send_claimed(items)
        finally:
            self.release([item.id for item in items])

    async def _send_claimed(self, items: list[OutboxItem]) -> int:
        keys = self._vault.keys
        if not items:
            return 0
        if keys is None or self._stopping:
            await self._requeue([item.id for item in items])
            return 0
        sent, notified = 0, set[str]()
        for index, item in enumerate(items):
            if self._vault.keys is not keys:
                await self._requeue([i.id for i in items[index:]])
                break
            self.bucket.borrow()
            outcome = await self._shielded(self.rows.send_item(item, keys, notified))
            if outcome is Outcome.PAUSED:
                await self._requeue([i.id for i in items[index + 1 :]])
                break
            sent += outcome is Outcome.SENT
        return sent

    async def _requeue(self, ids: list[int]) -> None:
        if not ids:
            return
        try:
            async with self._db.transaction() as session:
                await OutboxRepository(session, None).requeue(ids)
        except Exception as exc:  # left 'sending': the next start puts them back
            log.error("outbox_requeue_failed", error_type=type(exc).__name__)
        self.wake()
