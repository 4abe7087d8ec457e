"""Deadlines, read from the database: closing votes, nudging and expiring drafts,
shredding closed cases after retention, then every registered sweep (call-outs,
prompts, debriefs, the outbox: :mod:`bot.sweeps`).

The database is the source of truth for every deadline, so nothing is lost across a
restart and the scheduler store holds no arguments: APScheduler (:mod:`bot.jobs`) runs
:meth:`Timers.tick` every ``sweep_seconds`` and at known deadlines, and a tick asks "what
is due?" in small batches: one transaction per vote and per draft (each may send
messages), one per batch of shredded cases.  A sealed bot holds no
keys and does nothing here; what fell due meanwhile is done after unseal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from bot import casework
from bot.context import Context
from bot.i18n import _
from bot.jobs import wake
from bot.logging import get_logger
from bot.sweeps import registered
from security import Keyring
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.dispatcher import Dispatcher

log = get_logger("lantern.timers")


class Timers:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._d = dispatcher

    @property
    def dispatcher(self) -> Dispatcher:
        return self._d

    # --- the tick (APScheduler runs it: bot/jobs.py) -------------------------------------

    async def tick(self) -> int:
        """Do everything due now; how many items were handled."""
        keys = self._d.vault.keys
        if keys is None:
            return 0
        now = self._d.clock()
        done = await self._votes(keys, now)
        done += await self._drafts(keys, now)
        done += await self._retention(keys, now)
        for sweep in registered():
            done += await sweep(self, keys, now)
        if done:
            log.info("timers_done", count=done)
        return done

    # --- items -----------------------------------------------------------------------

    async def in_context(
        self, keys: Keyring, now: datetime, work: Callable[[Context], Awaitable[None]], **kw: str
    ) -> None:
        """One transaction: the change and its messages (written to the outbox) commit
        together; the messages are sent (screened at send time) once it has."""
        async with self._d.db.transaction() as session:
            repos = Repositories(session, keys)
            ctx = Context(
                sender=kw.get("sender", ""),
                text="",
                settings=self._d.settings,
                repos=repos,
                now=now,
                router=self._d.router,
                network=self._d.vault.network,
            )
            await work(ctx)
            ids = await repos.outbox.enqueue(ctx.outgoing, now=now)
        for key, when in ctx.wakes:
            wake(key, when)
        await self._d.outbox.flush(ids)

    async def _votes(self, keys: Keyring, now: datetime) -> int:
        async with self._d.db.transaction() as session:
            due = await Repositories(session, keys).ballots.due_votes(now=now)

        async def close(ctx: Context, *, case_id: str) -> None:
            case = await ctx.repos.cases.by_id(case_id, lock=True)
            if case is not None and case.status == "voting":
                await casework.close_vote(ctx, case)

        for case_id in due:
            await self.in_context(keys, now, partial(close, case_id=case_id))
        return len(due)

    async def _drafts(self, keys: Keyring, now: datetime) -> int:
        async with self._d.db.transaction() as session:
            due = await Repositories(session, keys).dialogs.due(now=now)
        for item in due:
            if item.account is None:
                async with self._d.db.transaction() as session:
                    await Repositories(session, keys).dialogs.clear_index(item.bidx)
                continue
            account = item.account
            async with self._d.locks.hold(account):
                await self.in_context(
                    keys, now, partial(self._nudge, account=account), sender=account
                )
        return len(due)

    async def _nudge(self, ctx: Context, *, account: str) -> None:
        """Remind once before expiry (and ask the question again), or say it is gone."""
        repos = ctx.repos
        ctx.member = await repos.members.by_account(account)
        ctx.dialog = await repos.dialogs.get(account, now=ctx.now - timedelta(days=3650))
        if ctx.dialog is None:
            return
        if ctx.dialog.expires_at <= ctx.now:
            ctx.language_override = ctx.language  # the draft held it; it is about to go
            await ctx.end_dialog()
            ctx.reply(_("intake.expired"))
            return
        await repos.dialogs.reminded(account)
        ctx.reply(_("intake.reminder"), hours=ctx.settings.intake_reminder_hours)
        await ctx.router.reprompt(ctx)

    async def _retention(self, keys: Keyring, now: datetime) -> int:
        before = now - timedelta(days=self._d.settings.case_retention_days)
        async with self._d.db.transaction() as session:
            repos = Repositories(session, keys)
            expired = await repos.cases.expired(before=before)
            for case_id in expired:
                await repos.cases.shred(case_id)
        if expired:
            await self._d.db.checkpoint()  # SQLite: no copy of the shredded keys in the WAL
        return len(expired)
