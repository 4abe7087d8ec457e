"""Fair rotation through the real dispatcher and sweep: a role slot is offered first to
the holder who served least recently, skipping paused and unavailable people; PASS, NO
and an offer running out move it on; others cannot jump a held place; an exhausted
rotation opens the slot to everyone asked.  On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import LanternApp
from storage.callouts import Audience, Slot
from storage.repositories import Repositories
from tests.callouts import (
    PLACE,
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

OFFER_MARK = "🔁"


async def member_id(app: LanternApp, account: str) -> str:
    assert app.vault.keys is not None
    async with app.db.transaction() as session:
        member = await Repositories(session, app.vault.keys).members.by_account(account)
        assert member is not None
        return member.id


async def served_on(app: LanternApp, cell_ref: str, people: list[str], starts: datetime) -> None:
    """History: a past call-out of the cell that these people (accounts) said yes to."""
    keys = app.vault.keys
    assert keys is not None
    ids = [await member_id(app, p) for p in people]
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        cell = await repos.cells.by_ref(cell_ref)
        assert cell is not None
        view = await repos.callouts.create(
            cell.id,
            what="An earlier action",
            where="somewhere",
            wanted=len(ids),
            slots=[],
            audience=Audience(cells=(cell.id,)),
            starts_at=starts,
            reveal_at=starts - timedelta(hours=2),
            send_at=starts - timedelta(days=2),
            status="done",
            created_by="orga",
            now=starts - timedelta(days=2),
        )
        await repos.callouts.add_members(view.id, ids)
        # long over: its debrief was asked for then (no stray invitation in these tests)
        await repos.callouts.set_columns(view.id, now=starts, debriefed=True)
        for who in ids:
            await repos.callouts.set_answer(view.id, who, answer="yes", slot=None, now=starts)


def offers(chat: Chat, people: dict[str, str], since: int) -> list[str]:
    """Handles of those who got an offer since ``since``, in the order sent."""
    by_account = {a: h for h, a in people.items()}
    return [
        by_account[a] for a, t in chat.messenger.sent[since:] if a in by_account and OFFER_MARK in t
    ]


async def drivers(chat: Chat, net: Network, count: int) -> dict[str, str]:
    accounts = await crew(chat, net, count, prefix="drv")
    for who in accounts:
        await chat.say(who, "signup driver")
    return {f"d{i}": who for i, who in enumerate(accounts)}


async def history(app: LanternApp, net: Network, people: dict[str, str], clock: Clock) -> None:
    """d0 served 3 days ago; d1 30 days ago; d3 10 and 12 days ago; d2 never."""
    now = clock.now
    await served_on(app, net.cell, [people["d0"]], now - timedelta(days=3))
    await served_on(app, net.cell, [people["d1"]], now - timedelta(days=30))
    await served_on(app, net.cell, [people["d3"]], now - timedelta(days=10))
    await served_on(app, net.cell, [people["d3"]], now - timedelta(days=12))


def away_on(starts: datetime, timezone: str) -> str:
    """An availability word that excludes the action's local day."""
    return "weekdays" if starts.astimezone(ZoneInfo(timezone)).weekday() >= 5 else "weekends"


async def test_slot_offers_follow_least_recently_served_and_skip_paused_and_unavailable(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 6)
    await history(app, net, people, clock)
    await chat.say(people["d4"], "pause 2 weeks")
    starts = clock.now + timedelta(days=3)
    await chat.say(people["d5"], f"skills car, {away_on(starts, app.settings.timezone)}")
    before = len(chat.messenger.sent)
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    await tick(chat, clock)
    await chat.dispatcher.outbox.flush_due()
    assert offers(chat, people, before) == ["d2"]  # never served: first
    offer = received(chat.messenger, people["d2"], before)
    assert len(offer) == 1, "the offer is the invitation: one message"
    assert ref in offer[0] and "YES " + ref + " driver" in offer[0] and PLACE not in offer[0]
    assert received(chat.messenger, people["d4"], before) == [], "paused: no call-out at all"
    assert len(received(chat.messenger, people["d5"], before)) == 1  # invited, not offered

    step = len(chat.messenger.sent)
    assert en("rotation.passed", ref=ref, role="driver") == await chat.say(
        people["d2"], f"pass {ref}"
    )
    assert offers(chat, people, step) == ["d1"]  # 30 days ago
    step = len(chat.messenger.sent)
    clock.now += timedelta(hours=app.settings.rotation_offer_hours, minutes=1)
    await tick(chat, clock)
    await chat.dispatcher.outbox.flush_due()
    assert offers(chat, people, step) == ["d3"]  # ran out: 10 days ago (twice)
    step = len(chat.messenger.sent)
    await chat.send(people["d3"], f"no {ref}")
    assert offers(chat, people, step) == ["d0"]  # NO passes it on: 3 days ago
    took = await chat.say(people["d0"], f"yes {ref} driver")
    assert en("rsvp.slot_yours", slot="driver") in took


async def test_others_cannot_jump_a_held_place_but_their_yes_is_kept(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 2)
    [ana] = await crew(chat, net, 1, prefix="ana")
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    await tick(chat, clock)
    reply = await chat.say(ana, f"yes {ref} driver")
    assert "held for people whose turn it is" in reply
    assert en("rsvp.slot_yours", slot="driver") not in reply
    status = "\n".join(await chat.send(net.organizer, f"status {ref}"))
    assert "1 yes" in status and "driver 0/1 (+1 🔁)" in status
    holder = next(
        who for who in people.values() if OFFER_MARK in "".join(received(chat.messenger, who))
    )
    assert en("rsvp.slot_yours", slot="driver") in await chat.say(holder, f"yes {ref} driver")


async def test_an_exhausted_rotation_opens_the_slot_to_everyone_asked(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 1)
    [ana] = await crew(chat, net, 1, prefix="ana")
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    await tick(chat, clock)
    await chat.say(ana, f"maybe {ref}")
    step = len(chat.messenger.sent)
    await chat.say(people["d0"], f"pass {ref}")
    await chat.dispatcher.outbox.flush_due()
    assert received(chat.messenger, ana, step) == [en("rotation.slot_open", ref=ref, role="driver")]
    told = received(chat.messenger, net.organizer, step)
    assert en("rotation.widened", ref=ref, role="driver") in told
    assert en("rsvp.slot_yours", slot="driver") in await chat.say(ana, f"yes {ref} driver")


async def test_a_slot_without_holders_is_open_from_the_start_and_nobody_is_told(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    [ana] = await crew(chat, net, 1, prefix="ana")
    before = len(chat.messenger.sent)
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    await tick(chat, clock)
    await chat.dispatcher.outbox.flush_due()
    assert not any(OFFER_MARK in t or "🔓" in t for _a, t in chat.messenger.sent[before:])
    assert en("rsvp.slot_yours", slot="driver") in await chat.say(ana, f"yes {ref} driver")


async def test_unmatched_slot_names_keep_working_as_before(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    await drivers(chat, net, 1)
    [ana] = await crew(chat, net, 1, prefix="ana")
    ref = await call_out(chat, net.organizer, slots="2 banner holders", people=3)
    await tick(chat, clock)
    assert en("rsvp.slot_yours", slot="banner holders") in await chat.say(
        ana, f"yes {ref} banner holders"
    )
    assert app.vault.keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, app.vault.keys)
        found = await repos.callouts.locate(ref)
        assert found is not None
        view = await repos.callouts.by_id(found[0])
    assert view is not None and view.slots == (Slot("banner holders", 2, None),)


async def test_pass_for_a_callout_not_sent_to_you_reads_like_a_random_id(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 2)
    await chat.say(people["d1"], "pause 1 week")  # not asked: the call-out is not theirs
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    await tick(chat, clock)
    real = await chat.say(people["d1"], f"pass {ref}")
    fake = await chat.say(people["d1"], "pass ZZZZ99")
    assert re.sub(r"\b[0-9A-Z]{6}\b", "<id>", real) == re.sub(r"\b[0-9A-Z]{6}\b", "<id>", fake)
    assert await chat.say(people["d0"], "pass") == en("rotation.pass_usage")


async def test_a_cancelled_callout_offers_nothing_more(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    people = await drivers(chat, net, 3)
    ref = await call_out(chat, net.organizer, slots="1 driver", people=3)
    await tick(chat, clock)
    await chat.say(net.organizer, f"cancel {ref}")
    step = len(chat.messenger.sent)
    clock.now += timedelta(hours=app.settings.rotation_offer_hours, minutes=1)
    await tick(chat, clock)
    await chat.dispatcher.outbox.flush_due()
    assert offers(chat, people, step) == []
