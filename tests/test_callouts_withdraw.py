"""A call-out cancelled while its fan-out is still queued (Signal said 429) must not go
on inviting people: what was not sent yet is withdrawn, what was sent stays sent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import LanternApp
from storage.models import OutboxMessage
from tests.callouts import Clock, bulk_members, call_out, clock_fixture, en, everything, tick
from tests.conftest import Chat, FakeMessenger
from tests.network import Network

__all__ = ["clock_fixture"]


async def queued(app: LanternApp) -> int:
    async with app.db.transaction() as session:
        found = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "queued")
        )
    return int(found or 0)


async def test_cancel_withdraws_invitations_not_yet_sent(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    people = set(await bulk_members(app, net.cell, 12))
    ref = await call_out(chat, net.organizer)
    messenger.rate_limited = 1  # the first invitation meets a 429: the rest wait
    await tick(chat, clock)
    assert await queued(app) >= len(people), "the fan-out should be waiting on the back-off"

    mark = len(messenger.sent)
    await chat.send(net.organizer, f"cancel {ref}")
    clock.now += timedelta(hours=1)  # well past any back-off
    await tick(chat, clock)
    await chat.dispatcher.outbox.flush_due()
    invited = [a for a, t in everything(messenger, mark) if a in people and ref in t]
    assert invited == [], "a cancelled call-out kept inviting people"
    assert await queued(app) == 0
    assert en("callout.cancel_done", ref=ref, count=0) in [
        t for a, t in messenger.sent[mark:] if a == net.organizer
    ]
