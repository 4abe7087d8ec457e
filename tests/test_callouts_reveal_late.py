"""A reveal at the very start ("0") still reaches the people who said yes, and so does a
reveal the bot was down for, if it is back by just after the start; later, it is not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.callouts import PLACE, Clock, call_out, clock_fixture, crew, en, received, tick
from tests.conftest import Chat, FakeMessenger
from tests.network import Network

__all__ = ["clock_fixture"]


@pytest.mark.parametrize(
    ("reveal", "back_at", "gets_place"),
    [
        ("0", timedelta(0), True),  # revealed at the start itself
        ("2h", timedelta(minutes=10), True),  # down over the reveal, back just after
        ("2h", timedelta(minutes=40), False),  # back too late: the action is under way
    ],
)
async def test_place_at_or_just_after_the_start(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    clock: Clock,
    reveal: str,
    back_at: timedelta,
    gets_place: bool,
) -> None:
    ana, ben = await crew(chat, net, 2)
    ref = await call_out(chat, net.organizer, reveal=reveal)
    start = clock.now + timedelta(days=3)
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    await chat.send(ben, f"no {ref}")
    for moment in (start - timedelta(hours=24), start + back_at, start + back_at):
        await tick(chat, clock, moment)
    place = en("callout.place", ref=ref, where=PLACE)
    assert (place in received(messenger, ana)) is gets_place
    assert received(messenger, ana).count(place) <= 1
    assert not any(PLACE in text for text in received(messenger, ben))
