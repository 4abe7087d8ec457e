"""Helpers for the outbox tests: fan-outs through the real timers path, row inspection."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.app import LanternApp
from bot.context import BULK, Context
from bot.dispatcher import Dispatcher
from bot.outbox import TokenBucket
from storage.models import OutboxMessage
from storage.outbox import OutboxRepository, Standing


@dataclass(frozen=True)
class Row:
    id: int
    state: str
    priority: int
    attempts: int
    reason: str | None
    has_body: bool
    batch: str | None


async def fan_out(
    dispatcher: Dispatcher,
    accounts: list[str],
    text: str,
    *,
    priority: int = BULK,
    batch: str | None = "batch1",
    sensitive: bool = False,
    tag: str | None = None,
) -> None:
    """Queue one message per account the way a sweep does (Timers.in_context)."""
    keys = dispatcher.vault.keys
    assert keys is not None

    async def work(ctx: Context) -> None:
        for i, account in enumerate(accounts):
            ctx.queue(
                account,
                f"{text} #{i}",
                priority=priority,
                batch=batch,
                sensitive=sensitive,
                tag=tag,
            )

    await dispatcher.timers.in_context(keys, dispatcher.clock(), work)


async def rows(app: LanternApp) -> list[Row]:
    async with app.db.transaction() as session:
        found = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return [
            Row(r.id, r.state, r.priority, r.attempts, r.reason, r.body_ct is not None, r.batch)
            for r in found
        ]


async def standing(app: LanternApp) -> Standing:
    async with app.db.transaction() as session:
        return await OutboxRepository(session, None).standing()


def starve(dispatcher: Dispatcher, burst: int = 1) -> None:
    """A bucket that hands out ``burst`` tokens and then (practically) none."""
    dispatcher.outbox.bucket = TokenBucket(0.0001, burst)


def feed(dispatcher: Dispatcher) -> None:
    dispatcher.outbox.bucket = TokenBucket(100.0, 100_000)
