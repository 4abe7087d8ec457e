"""One outbox row at a time: claim it, screen it, send it, and record what happened.

See :mod:`bot.outbox` for the rules (what counts as an attempt, captcha, back-off) and the
exactly-once argument; this module is the part that runs shielded from cancellation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from bot.captcha import tell_coordinators
from bot.config import Settings
from bot.logging import get_logger
from bot.messenger import IdentityChanged, Messenger, RateLimited, RecipientFailed
from security import DecryptionError, Keyring
from storage.db import Database
from storage.outbox import OutboxItem, OutboxRepository
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.quarantine import Quarantine

log = get_logger("lantern.outbox")

MARK_TRIES = 3


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; :meth:`borrow` may go into debt."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, float(burst), clock
        self.tokens, self._at = float(burst), clock()
        self._floor = -(rate * 60.0)  # a minute of debt at most

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> bool:
        self._refill()
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def borrow(self) -> None:
        self._refill()
        self.tokens = max(self._floor, self.tokens - 1.0)

    def wait(self) -> float:
        """Seconds until a token is there (0: now)."""
        self._refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    WITHHELD = "withheld"
    SKIPPED = "skipped"  # someone else claimed it
    PAUSED = "paused"  # Signal said stop: captcha or a plain 429


class RowSender:
    """Sends single rows; keeps the global back-off and whom it told about a captcha."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        messenger: Messenger,
        quarantine: Quarantine,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self._db = db
        self._settings = settings
        self._messenger = messenger
        self._quarantine = quarantine
        self._clock = clock
        self.wake = wake
        self.backoff = 0.0  # the last global back-off, in seconds (doubles)
        self._told: str | None = None  # the challenge coordinators were told about
        # Rows this process holds 'sending' right now: from before the claim commits until
        # what happened is recorded.  A 'sending' row outside it (and not below) was left
        # by a failed write and is safe to queue again: see :meth:`Outbox.sweep`.
        self.owned: set[int] = set()
        # Sent, but the database would not record it: never queued again, marked later.
        self.unmarked: set[int] = set()

    async def deliver(self, row_id: int, keys: Keyring, notified: set[str]) -> Outcome:
        self.owned.add(row_id)  # before the claim: never 'sending' and unowned here
        try:
            try:
                async with self._db.transaction() as session:
                    item = await OutboxRepository(session, keys).claim(row_id)
            except DecryptionError:
                await self._fail(row_id, "undecryptable")
                return Outcome.FAILED
            if item is None:
                return Outcome.SKIPPED
            return await self.send_item(item, keys, notified)
        finally:
            self.owned.discard(row_id)

    async def send_item(self, item: OutboxItem, keys: Keyring, notified: set[str]) -> Outcome:
        """Send a claimed row and record what happened (sent, retry, failed, withheld)."""
        self.owned.add(item.id)
        try:
            return await self._send_item(item, keys, notified)
        finally:
            self.owned.discard(item.id)

    async def _send_item(self, item: OutboxItem, keys: Keyring, notified: set[str]) -> Outcome:
        row_id = item.id
        messenger = self._messenger
        stamp: int | None = None
        try:
            if item.sensitive and not await self._quarantine.cleared(item.account, keys):
                if item.account not in notified:
                    notice = await self._quarantine.withheld_text(item.account, keys)
                    await messenger.send_text(item.account, notice)
                    notified.add(item.account)
                await self._fail(row_id, None)
                return Outcome.WITHHELD
            if item.timer is not None:
                await messenger.set_timer(item.account, item.timer)
            if item.text is not None:
                stamp = await messenger.send_text(item.account, item.text)
        except RateLimited as exc:
            return await self._rate_limited(item, exc, keys)
        except IdentityChanged:
            log.warning("delivery_failed", error_type="IdentityChanged")
            await self._fail(row_id, "identity")
            await self._quarantine.quarantine({item.account}, keys)
            return Outcome.FAILED
        except RecipientFailed as exc:
            log.warning("delivery_failed", error_type="RecipientFailed", kind=exc.reason)
            if exc.unregistered:
                await self._fail(row_id, "unregistered")
                return Outcome.FAILED
            return await self._retry(item, exc.reason.lower())
        except Exception as exc:  # 5xx, transport, anything else: later, counted
            log.warning("delivery_failed", error_type=type(exc).__name__)
            return await self._retry(item, "unavailable")
        await self._sent(item, stamp, keys)
        return Outcome.SENT

    async def _fail(self, row_id: int, reason: str | None) -> None:
        """Give the row up (``reason``), or record it withheld (None)."""
        async with self._db.transaction() as session:
            repo, now = OutboxRepository(session, None), self._clock()
            if reason is None:
                await repo.withheld(row_id, now=now)
            else:
                await repo.fail(row_id, reason, now=now)

    async def _sent(self, item: OutboxItem, stamp: int | None, keys: Keyring) -> None:
        """Mark sent, retrying: a sent row left unmarked would be sent again.  Only the
        first try also links the message to its call-out (so a failing link cannot keep
        the row unmarked); still failing, the row is remembered in :attr:`unmarked`."""
        for attempt in range(MARK_TRIES):
            try:
                await self._record_sent(item.id, (item, stamp) if attempt == 0 else None, keys)
                return
            except Exception as exc:
                log.error("outbox_mark_failed", error_type=type(exc).__name__, attempt=attempt)
                await asyncio.sleep(0.1 * (attempt + 1))
        self.unmarked.add(item.id)

    async def _record_sent(
        self, row_id: int, link: tuple[OutboxItem, int | None] | None, keys: Keyring | None
    ) -> None:
        async with self._db.transaction() as session:
            now = self._clock()
            await OutboxRepository(session, None).mark_sent(row_id, now=now)
            if self.backoff > 0:
                await OutboxRepository(session, None).clear_backoff()
            item, stamp = link if link is not None else (None, None)
            if keys is not None and item is not None and item.tag is not None and stamp:
                callouts = Repositories(session, keys).callouts
                hook = getattr(callouts, "remember_sent", None)
                if hook is not None:  # which call-out a reaction to this message answers
                    await hook(item.account, stamp, item.tag, now=now)
        self.backoff = 0.0

    async def mark_unmarked(self) -> int:
        """Record the rows sent while the database would not; how many still are not.
        (Their call-out link is lost: an answer by reaction to that one message is not
        recognised, an answer by text still is.)"""
        for row_id in sorted(self.unmarked):
            try:
                await self._record_sent(row_id, None, None)
            except Exception as exc:
                log.warning("outbox_mark_failed", error_type=type(exc).__name__)
                break  # the database still fails: the next sweep tries again
            self.unmarked.discard(row_id)
        return len(self.unmarked)

    async def _retry(self, item: OutboxItem, reason: str) -> Outcome:
        settings = self._settings
        attempts = item.attempts + 1
        if attempts >= settings.send_max_attempts:
            await self._fail(item.id, reason)
            log.warning("delivery_gave_up", count=attempts)
            return Outcome.FAILED
        delay = min(
            settings.retry_base_seconds * 2 ** (attempts - 1), settings.retry_max_hours * 3600
        )
        async with self._db.transaction() as session:
            later = self._clock() + timedelta(seconds=delay)
            await OutboxRepository(session, None).retry(item.id, not_before=later, reason=reason)
        self.wake()  # the loop sleeps until the earliest retry: this may be it
        return Outcome.RETRY

    async def _rate_limited(self, item: OutboxItem, exc: RateLimited, keys: Keyring) -> Outcome:
        """Signal said stop: everything waits; this row goes back, its try not counted."""
        now = self._clock()
        token = exc.challenge
        async with self._db.transaction() as session:
            repo = OutboxRepository(session, None)
            await repo.retry(item.id, not_before=now, reason="rate_limited", counted=False)
            if token is not None:
                fresh = await repo.set_challenge(token, now=now)
            else:
                ceiling = self._settings.retry_max_hours * 3600
                base = self._settings.retry_base_seconds
                self.backoff = base if self.backoff <= 0 else min(self.backoff * 2, ceiling)
                await repo.back_off(now=now, seconds=self.backoff)
        self.wake()  # the loop takes it from here, after the pause
        if token is None:
            log.warning("rate_limited", duration_ms=round(self.backoff * 1000))
            return Outcome.PAUSED
        if fresh and token != self._told:
            self._told = token
            log.warning("captcha_required")
            await tell_coordinators(self._db, keys, self._messenger)
        return Outcome.PAUSED
