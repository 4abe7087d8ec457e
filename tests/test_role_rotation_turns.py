"""Fair rotation, the finer points of whose turn it is: a plain YES to the call-out being
filled is not a turn; a YES to another action still to come sorts someone last and is
named as such; a role place given back goes on in turn, not to whoever writes first;
and the audience leaves out paused people and narrows by skill and role.  On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import callout_texts as texts
from bot.app import LanternApp
from storage.callouts import Audience
from storage.repositories import Repositories
from tests.callouts import (
    Clock,
    call_out,
    clock_fixture,  # noqa: F401  (fixture)
    crew,
    en,
    received,
    tick,
)
from tests.conftest import Chat
from tests.network import Network
from tests.test_role_rotation import drivers, member_id, offers


async def said_yes(
    app: LanternApp, net: Network, who: str, starts: datetime, *, status: str = "done"
) -> None:
    """History: a call-out of the cell (past or still to come) this person said yes to."""
    keys = app.vault.keys
    assert keys is not None
    mid = await member_id(app, who)
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        cell = await repos.cells.by_ref(net.cell)
        assert cell is not None
        view = await repos.callouts.create(
            cell.id,
            what="Another action",
            where="somewhere",
            wanted=1,
            slots=[],
            audience=Audience(cells=(cell.id,)),
            starts_at=starts,
            reveal_at=starts - timedelta(hours=2),
            send_at=starts - timedelta(days=2),
            status=status,
            created_by="orga",
            now=starts - timedelta(days=2),
        )
        await repos.callouts.add_members(view.id, [mid])
        await repos.callouts.set_answer(view.id, mid, answer="yes", slot=None, now=view.send_at)


async def test_a_plain_yes_to_this_callout_is_not_a_turn(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 3)
    await said_yes(app, net, people["d0"], clock.now - timedelta(days=10))
    await said_yes(app, net, people["d1"], clock.now - timedelta(days=5))
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    step = len(chat.messenger.sent)
    await tick(chat, clock)
    assert offers(chat, people, step) == ["d2"]  # never served
    await chat.say(people["d0"], f"yes {ref}")  # coming, no role (yet)
    step = len(chat.messenger.sent)
    await chat.say(people["d2"], f"pass {ref}")
    assert offers(chat, people, step) == ["d0"], "10 days ago goes before 5 days ago"
    assert en("rsvp.slot_yours", slot="driver") in await chat.say(people["d0"], f"yes {ref} driver")


async def test_a_yes_to_an_action_still_to_come_sorts_last_and_says_so(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 2)
    coming = clock.now + timedelta(days=1)
    await said_yes(app, net, people["d0"], coming, status="sent")
    await said_yes(app, net, people["d1"], clock.now - timedelta(days=20))
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    step = len(chat.messenger.sent)
    await tick(chat, clock)
    assert offers(chat, people, step) == ["d1"]
    step = len(chat.messenger.sent)
    await chat.say(people["d1"], f"pass {ref}")
    assert offers(chat, people, step) == ["d0"]
    [offer] = received(chat.messenger, people["d0"], step)
    date = texts.when_text(app.settings, "en", coming, "d MMM")
    assert en("rotation.booked_turn", date=date) in offer


async def test_a_role_place_given_back_goes_to_the_next_in_turn(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 2)
    [ana] = await crew(chat, net, 1, prefix="ana")
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    step = len(chat.messenger.sent)
    await tick(chat, clock)
    [first] = offers(chat, people, step)
    [second] = [h for h in people if h != first]
    await chat.say(people[first], f"yes {ref} driver")
    await chat.say(ana, f"yes {ref}")
    step = len(chat.messenger.sent)
    await chat.send(people[first], f"no {ref}")
    assert offers(chat, people, step) == [second]
    assert "held for people whose turn it is" in await chat.say(ana, f"take {ref} driver")
    assert en("rsvp.slot_yours", slot="driver") in await chat.say(
        people[second], f"yes {ref} driver"
    )


async def test_the_audience_leaves_out_paused_people_and_narrows_by_skill_and_role(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 3)
    await chat.say(people["d0"], "skills car")
    await chat.say(people["d1"], "skills car")
    await chat.say(people["d1"], "pause 1 week")
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        cell = await repos.cells.by_ref(net.cell)
        assert cell is not None
        everyone = Audience(cells=(cell.id,))
        page = await repos.callouts.audience_page(everyone, after=None, limit=500, now=clock.now)
        size = await repos.callouts.audience_size(everyone, clock.now)
        later = await repos.callouts.audience_size(everyone, clock.now + timedelta(days=8))

        async def count(kind: str, value: str) -> int:
            narrowed = Audience(cells=(cell.id,), filters=((kind, value),))
            return await repos.callouts.audience_size(narrowed, clock.now)

        assert await count("skill", "car") == 1  # d1 has a car but is paused
        assert await count("holds", "driver") == 2
        assert await count("holds", "host") == 0
    paused = await member_id(app, people["d1"])
    assert paused not in page and len(page) == size and later == size + 1


async def test_last_action_on_the_same_day_then_fewer_actions_lately_goes_first(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 2)
    await said_yes(app, net, people["d0"], clock.now - timedelta(days=10))
    await said_yes(app, net, people["d0"], clock.now - timedelta(days=12))
    await said_yes(app, net, people["d1"], clock.now - timedelta(days=10))
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    step = len(chat.messenger.sent)
    await tick(chat, clock)
    assert offers(chat, people, step) == ["d1"], "one action lately goes before two"
    step = len(chat.messenger.sent)
    await chat.say(people["d1"], f"pass {ref}")
    assert offers(chat, people, step) == ["d0"]
