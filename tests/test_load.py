"""The load figure and the organizers' warning when a few people carry most of it
(bot/load.py, storage/load.py), driven by actions reaching their end in the timers."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import LanternApp
from storage.load import figure
from storage.models import utcnow
from tests.callouts import bulk_members
from tests.conftest import Chat, FakeMessenger
from tests.coveragekit import en, history, sign_up, warned_at
from tests.network import Network
from tests.test_debrief import make_action

WARNING_START = en(
    "load.warning", days=90, busiest="\x00", people=0, share=0, cell="", total=0
).split("\x00")[0]  # "In the last 90 days, "


async def action_over(
    chat: Chat, app: LanternApp, net: Network, answers: dict[str, str], at: datetime
) -> None:
    """One more action of the cell, which started at ``at``; the clock moves past its
    end and the timers mark it done (where the warning is decided)."""
    await make_action(app, net.cell, dict(answers), starts_at=at, status="sent")
    chat.dispatcher.clock = lambda: at + timedelta(hours=3, minutes=1)
    for _ in range(4):
        await chat.dispatcher.timers.tick()
    await chat.dispatcher.outbox.flush_due()


def warnings(messenger: FakeMessenger, account: str, since: int = 0) -> list[str]:
    return [t for a, t in messenger.sent[since:] if a == account and t.startswith(WARNING_START)]


async def cell_of_ten(app: LanternApp, net: Network) -> list[str]:
    """Nine members and the organizer: the busiest fifth is 2 people."""
    return await bulk_members(app, net.cell, 9)


def test_load_figure_is_the_busiest_fifth_of_members() -> None:
    assert figure([], 10).share == 0.0 and figure([], 10).busiest == 2
    skewed = figure([6, 6, 1], 10)  # two people took 12 of 13
    assert (skewed.busiest, skewed.total, skewed.percent) == (2, 13, 92)
    assert figure([2] * 10, 10).percent == 20
    assert figure([3, 1], 3).busiest == 1, "a fifth rounds up, at least one person"
    assert figure([5, 4, 1], 11).busiest == 3


async def test_load_warning_fires_on_a_skewed_history_naming_holders_without_a_turn(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await cell_of_ten(app, net)
    busy, other = people[:2], people[2]
    await sign_up(app, [busy[0], people[3], people[4]], "driver")  # bulk3, bulk4 waited
    await sign_up(app, [people[5]], "driver", paused=True)  # resting: not named
    await sign_up(app, [people[6], other], "host")  # bulk6 waited; bulk2 had a turn
    now = utcnow()
    await history(app, net, {busy[0]: 5, busy[1]: 5, other: 1}, before=now)
    start = len(messenger.sent)
    await action_over(chat, app, net, {busy[0]: "yes", busy[1]: "yes"}, now - timedelta(hours=1))

    [warning] = warnings(messenger, net.organizer, start)
    assert warning.startswith(
        en(
            "load.warning",
            days=90,
            busiest=2,
            people=10,
            share=92,
            cell="Riverside tenants",
            total=13,
        )
    )
    assert en("load.waiting", role="driver", count=2, handles="@bulk3, @bulk4") in warning
    assert en("load.waiting", role="host", count=1, handles="@bulk6") in warning
    for named_wrongly in ("@bulk0", "@bulk1", "@bulk2", "@bulk5", *people):
        assert named_wrongly not in warning
    assert en("load.what_to_do") in warning and len(warning) <= 600
    assert [a for a, t in messenger.sent[start:] if t.startswith(WARNING_START)] == [
        net.organizer
    ], "organizers only"
    assert await warned_at(app, net.cell) is not None


async def test_load_no_warning_on_a_balanced_history_or_too_few_confirmations(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await cell_of_ten(app, net)
    now = utcnow()
    await history(app, net, {p: 2 for p in people}, before=now)  # 18 yes, 2 each: 22%
    start = len(messenger.sent)
    await action_over(chat, app, net, {people[0]: "yes"}, now - timedelta(hours=1))
    assert warnings(messenger, net.organizer, start) == []
    assert await warned_at(app, net.cell) is None


async def test_load_no_warning_below_the_minimum_even_when_skewed(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await cell_of_ten(app, net)
    now = utcnow()
    await history(app, net, {people[0]: 4, people[1]: 4}, before=now)  # 8 + 1 < 10
    start = len(messenger.sent)
    await action_over(chat, app, net, {people[0]: "yes"}, now - timedelta(hours=1))
    assert warnings(messenger, net.organizer, start) == []


async def test_load_old_and_cancelled_actions_do_not_count(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await cell_of_ten(app, net)
    now = utcnow()
    old = now - timedelta(days=120)  # outside the 90-day window
    await history(app, net, {people[0]: 6, people[1]: 6}, before=old)
    for i in range(6):
        await make_action(
            app,
            net.cell,
            {people[0]: "yes", people[1]: "yes"},
            starts_at=now - timedelta(days=i + 2),
            status="cancelled",
        )
    start = len(messenger.sent)
    await action_over(chat, app, net, {people[0]: "yes"}, now - timedelta(hours=1))
    assert warnings(messenger, net.organizer, start) == []


async def test_load_warning_at_most_once_per_fourteen_days(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await cell_of_ten(app, net)
    busy = {people[0]: "yes", people[1]: "yes"}
    now = utcnow()
    await history(app, net, {people[0]: 6, people[1]: 6}, before=now - timedelta(days=20))
    start = len(messenger.sent)
    await action_over(chat, app, net, busy, now - timedelta(days=20))
    assert len(warnings(messenger, net.organizer, start)) == 1
    start = len(messenger.sent)
    await action_over(chat, app, net, busy, now - timedelta(days=10))  # 10 days later
    assert warnings(messenger, net.organizer, start) == []
    start = len(messenger.sent)
    await action_over(chat, app, net, busy, now - timedelta(hours=4))  # 20 days later
    assert len(warnings(messenger, net.organizer, start)) == 1
