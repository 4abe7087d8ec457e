"""Need-to-know: the place reaches only people who said yes, only from the reveal time;
reminders and the maybe-nudge go once each; downtime past the start skips them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import LanternApp
from storage.models import Callout, CalloutMember
from tests.callouts import (
    PLACE,
    WHAT,
    Clock,
    call_out,
    clock_fixture,
    crew,
    en,
    everything,
    received,
    tick,
    when,
)
from tests.conftest import Chat, FakeMessenger
from tests.network import Network

__all__ = ["clock_fixture"]  # the fixture, imported for this module


def place_to(messenger: FakeMessenger, since: int = 0) -> list[str]:
    """Every account that received the place, once per message."""
    return [who for who, text in everything(messenger, since) if PLACE in text]


async def test_the_place_goes_only_to_yes_and_only_from_the_reveal_time(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    ana, ben, cy, dee, eve = await crew(chat, net, 5)
    ref = await call_out(chat, net.organizer, reveal="3h")
    start = clock.now + timedelta(days=3)
    mark = len(messenger.sent)
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    await chat.send(ben, f"yes {ref}")
    await chat.send(ben, f"no {ref}")  # changed their mind
    await chat.send(cy, f"maybe {ref}")
    await chat.send(dee, f"no {ref}")
    for hours in (48, 24, 3.1):
        await tick(chat, clock, start - timedelta(hours=hours))
    assert place_to(messenger, mark) == []
    await tick(chat, clock, start - timedelta(hours=3))
    assert place_to(messenger, mark) == [ana]
    assert received(messenger, ana)[-1] == en("callout.place", ref=ref, where=PLACE)
    late = await chat.send(eve, f"yes {ref}")  # after the reveal: the place comes with it
    assert late[-1] == en("callout.place", ref=ref, where=PLACE)
    await tick(chat, clock, start - timedelta(hours=2))  # the 2 h reminder carries it too
    await tick(chat, clock, start - timedelta(hours=1))
    assert sorted(place_to(messenger, mark)) == sorted([ana, ana, eve, eve])
    assert not {ben, cy, dee} & set(place_to(messenger))  # never, in anything they got
    async with app.db.transaction() as session:
        revealed = (await session.scalars(select(CalloutMember.revealed))).all()
    assert sorted(revealed) == [False] * 4 + [True] * 2


async def test_reminders_and_the_nudge_go_once_each_and_the_last_carries_the_place(
    net: Network, chat: Chat, messenger: FakeMessenger, clock: Clock
) -> None:
    ana, ben = await crew(chat, net, 2)
    ref = await call_out(chat, net.organizer)  # reminders 24 h and 2 h; reveal 2 h before
    start = clock.now + timedelta(days=3)
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    await chat.send(ben, f"maybe {ref}")
    mark = len(messenger.sent)
    reminder = en("callout.reminder", ref=ref, what=WHAT, when=when(start))
    nudge = en("callout.nudge", ref=ref, what=WHAT, when=when(start))
    await tick(chat, clock, start - timedelta(hours=24, minutes=1))
    assert everything(messenger, mark) == []
    for _ in range(3):
        await tick(chat, clock, start - timedelta(hours=24))
    assert received(messenger, ana, mark) == [reminder]
    assert received(messenger, ben, mark) == [nudge]
    for minutes in (121, 120, 119, 60):
        await tick(chat, clock, start - timedelta(minutes=minutes))
    with_place = reminder + "\n" + en("callout.place", ref=ref, where=PLACE)
    assert received(messenger, ana, mark) == [reminder, with_place]
    assert received(messenger, ben, mark) == [nudge]


async def test_a_bot_down_past_the_start_sends_no_late_reminder_nor_the_place(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    ana, ben = await crew(chat, net, 2)
    ref = await call_out(chat, net.organizer)
    start = clock.now + timedelta(days=3)
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    await chat.send(ben, f"maybe {ref}")
    mark = len(messenger.sent)
    await tick(chat, clock, start + timedelta(minutes=30))  # back after the start
    await tick(chat, clock, start + timedelta(minutes=31))
    assert everything(messenger, mark) == []
    async with app.db.transaction() as session:
        rows = await session.execute(select(CalloutMember.answer, CalloutMember.attended))
        attended = {answer: seen for answer, seen in rows.all()}
        row = (await session.scalars(select(Callout))).one()
    assert attended == {"yes": True, "maybe": False, None: False}  # None: the organizer
    assert (row.reminders_done, row.nudged, row.revealed) == (2, True, True)
    await tick(chat, clock, start + timedelta(hours=4))
    async with app.db.transaction() as session:
        assert await session.scalar(select(Callout.status)) == "done"


async def test_a_bot_down_over_the_first_reminder_sends_one_not_two(
    net: Network, chat: Chat, messenger: FakeMessenger, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    ref = await call_out(chat, net.organizer, reveal="1h")
    start = clock.now + timedelta(days=3)
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    mark = len(messenger.sent)
    await tick(chat, clock, start - timedelta(minutes=90))  # missed 24 h, 2 h due as well
    reminder = en("callout.reminder", ref=ref, what=WHAT, when=when(start))
    assert received(messenger, ana, mark) == [reminder]  # before the reveal: no place
    await tick(chat, clock, start - timedelta(minutes=60))
    assert received(messenger, ana, mark) == [reminder, en("callout.place", ref=ref, where=PLACE)]


async def test_after_a_cancel_nobody_gets_the_place_or_a_reminder(
    net: Network, chat: Chat, messenger: FakeMessenger, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    ref = await call_out(chat, net.organizer)
    start = clock.now + timedelta(days=3)
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    await chat.send(net.organizer, f"cancel {ref}")
    mark = len(messenger.sent)
    for hours in (24, 2, 1, 0):
        await tick(chat, clock, start - timedelta(hours=hours))
    assert everything(messenger, mark) == []
    assert await chat.say(ana, f"yes {ref}") == en("rsvp.cancelled", ref=ref)
