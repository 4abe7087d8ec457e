"""Inbound side: journal, serialise per sender, one transaction, reply after commit.

For every direct text message:
1. under the sender's lock (signalbot runs 3 consumers; one person's messages must be
   handled in order and never interleave their dialog state),
2. write it to the encrypted inbound journal in its own short transaction (a duplicate
   envelope is dropped here),
3. handle it in one transaction that also deletes the journal entry, so the state
   change and "this message is done" commit together,
4. deliver the replies.

If handling fails, the transaction rolls back, the person is told nothing was changed
and to send it again, and only the exception *type* is logged.  Messages journaled but
not handled (a crash, a kill -9) are replayed at start by :meth:`replay_pending`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from bot.config import Settings
from bot.context import Context, Outgoing
from bot.i18n import _, translate
from bot.logging import get_logger
from bot.messenger import Messenger, deliver
from bot.router import Router
from security import Keyring
from storage.db import Database
from storage.models import utcnow
from storage.repositories import Repositories

log = get_logger("lantern.dispatcher")


class SenderLocks:
    """One asyncio.Lock per sender, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Dispatcher:
    def __init__(
        self,
        *,
        db: Database,
        keys: Keyring,
        settings: Settings,
        router: Router,
        messenger: Messenger,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.router = router
        self.messenger = messenger
        self.clock = clock
        self.locks = SenderLocks()

    async def on_text(self, account: str, signal_timestamp: int, text: str) -> None:
        async with self.locks.hold(account):
            try:
                async with self.db.transaction() as session:
                    entry_id = await Repositories(session, self.keys).journal.record(
                        account, signal_timestamp, "text", {"text": text}
                    )
            except Exception as exc:
                log.error("journal_failed", error_type=type(exc).__name__)
                await self._apologise(
                    account, self.settings.default_language, _("error.unavailable")
                )
                return
            if entry_id is None:
                log.info("duplicate_dropped", kind="text")
                return
            await self._handle(entry_id, account, text)

    async def replay_pending(self) -> int:
        """Handle messages that were journaled but not handled before a stop."""
        async with self.db.transaction() as session:
            journal = Repositories(session, self.keys).journal
            await journal.prune(now=self.clock())
            pending = await journal.pending()
        for entry in pending:
            async with self.locks.hold(entry.account):
                await self._handle(entry.id, entry.account, str(entry.body.get("text", "")))
        if pending:
            log.info("journal_replayed", count=len(pending))
        return len(pending)

    async def _handle(self, entry_id: int, account: str, text: str) -> None:
        language = self.settings.default_language
        command = ""
        outgoing: list[Outgoing] = []
        try:
            async with self.db.transaction() as session:
                repos = Repositories(session, self.keys)
                now = self.clock()
                ctx = Context(
                    sender=account,
                    text=text,
                    settings=self.settings,
                    repos=repos,
                    now=now,
                    router=self.router,
                    member=await repos.members.by_account(account),
                    dialog=await repos.dialogs.get(account, now=now),
                )
                language = ctx.language
                await self.router.dispatch(ctx)
                command = ctx.command if self.router.lookup(ctx.command) else ""
                await repos.journal.done(entry_id)
                outgoing = self._with_timer(ctx)
        except Exception as exc:
            log.error("handler_failed", command=command, error_type=type(exc).__name__)
            await self._forget(entry_id)
            await self._apologise(account, language, _("error.internal"))
            return
        log.info("handled", command=command or "-", count=len(outgoing))
        await deliver(self.messenger, outgoing)

    def _with_timer(self, ctx: Context) -> list[Outgoing]:
        """Nothing is stored about non-members, so their timer is set with every reply.

        That keeps every conversation disappearing from the first message on, and keeps
        replies to all outsiders (never joined, left, removed) identical.
        """
        if ctx.member is not None or any(o.timer_seconds is not None for o in ctx.outgoing):
            return ctx.outgoing
        timer = Outgoing(ctx.sender, timer_seconds=self.settings.disappearing_timer)
        return [timer, *ctx.outgoing]

    async def _forget(self, entry_id: int) -> None:
        """A message that crashed its handler must not crash every restart after it."""
        try:
            async with self.db.transaction() as session:
                await Repositories(session, self.keys).journal.done(entry_id)
        except Exception as exc:
            log.error("journal_cleanup_failed", error_type=type(exc).__name__)

    async def _apologise(self, account: str, language: str, message_id: str) -> None:
        await deliver(self.messenger, [Outgoing(account, text=translate(language, message_id))])
