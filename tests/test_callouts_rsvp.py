"""Members answering: YES / NO / MAYBE, changing their mind, role slots and their
capacity, reactions, bare answers, CALLOUTS, and what people outside the audience hear."""

from __future__ import annotations

from datetime import timedelta

from bot.app import LanternApp
from storage.repositories import Repositories
from tests.callouts import (
    WHAT,
    Clock,
    call_out,
    clock_fixture,
    crew,
    en,
    es,
    received,
    tick,
    when,
)
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network

__all__ = ["clock_fixture"]  # the fixture, imported for this module


async def sent_callout(chat: Chat, net: Network, clock: Clock, **kw: object) -> str:
    ref = await call_out(chat, net.organizer, **kw)  # type: ignore[arg-type]
    await tick(chat, clock)
    return ref


async def test_answers_can_change_and_the_count_follows(
    net: Network, chat: Chat, clock: Clock
) -> None:
    ana, ben = await crew(chat, net, 2)
    ref = await sent_callout(chat, net, clock, people=3)
    starts = clock.now + timedelta(days=3)
    assert await chat.say(ana, f"yes {ref}") == "\n".join(
        [
            en("rsvp.yes", ref=ref, what=WHAT, when=when(starts)),
            en("rsvp.place_later", reveal=when(starts - timedelta(hours=2))),
        ]
    )
    assert await chat.say(ben, f"maybe {ref.lower()}") == en(
        "rsvp.maybe", ref=ref, what=WHAT, when=when(starts)
    )
    assert (await chat.say(ana, f"no {ref}")).startswith("Noted: you can't come")
    assert (await chat.say(ben, f"sí {ref}")).startswith("✅")
    status = await chat.say(net.organizer, f"status {ref}")
    assert en("callout.status_answers", yes=1, maybe=0, no=1, none=1, wanted=3) in status


async def test_role_slots_fill_up_and_free_again(net: Network, chat: Chat, clock: Clock) -> None:
    ana, ben = await crew(chat, net, 2)
    ref = await sent_callout(chat, net, clock, slots="1 driver, 2 legal observers")
    assert en("rsvp.slot_yours", slot="driver") in await chat.say(ana, f"yes {ref} drivers")
    full = await chat.say(ben, f"yes {ref} driver")
    assert en("rsvp.slot_full", slot="driver", need=1, ref=ref) in full
    assert await chat.say(ben, f"take {ref} 1") == en(
        "rsvp.slot_full_take", slot="driver", need=1, ref=ref
    )
    assert await chat.say(ben, f"take {ref} parachutist") == en(
        "rsvp.slot_unknown",
        ref=ref,
        text="parachutist",
        slots="1. driver ×1 · 2. legal observers ×2",
    )
    assert await chat.say(ben, f"take {ref} legal observer") == en(
        "rsvp.took", ref=ref, slot="legal observers"
    )
    await chat.say(ana, f"no {ref}")  # frees the driver's seat
    assert await chat.say(ben, f"take {ref} driver") == en("rsvp.took", ref=ref, slot="driver")
    assert en("callout.status_slots", slots="driver 1/1 · legal observers 0/2") in (
        await chat.say(net.organizer, f"status {ref}")
    )


async def test_taking_a_role_needs_a_yes_first(net: Network, chat: Chat, clock: Clock) -> None:
    (ana,) = await crew(chat, net, 1)
    ref = await sent_callout(chat, net, clock, slots="2 drivers")
    assert await chat.say(ana, f"take {ref} driver") == en("rsvp.take_needs_yes", ref=ref)
    await chat.say(ana, f"maybe {ref}")
    assert await chat.say(ana, f"take {ref} 1") == en("rsvp.take_needs_yes", ref=ref)


async def test_bare_yes_answers_the_only_open_callout_else_asks_which(
    net: Network, chat: Chat, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    assert await chat.say(ana, "yes") == en("rsvp.none_open")
    first = await sent_callout(chat, net, clock)
    assert (await chat.say(ana, "yes")).startswith(f"✅ You're in for {first}")
    second = await sent_callout(chat, net, clock, what="Phone zap")
    third = await sent_callout(chat, net, clock, what="Picket")
    reply = await chat.say(ana, "maybe")
    assert reply.startswith("Which call-out? Send MAYBE <id>")
    assert first in reply and second in reply and third in reply


async def test_a_thumbs_up_on_the_callout_is_a_yes_and_down_a_no(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    ref = await sent_callout(chat, net, clock)
    stamp = next(
        s
        for (a, s), (_b, t) in zip(messenger.stamps, messenger.sent, strict=True)
        if a == ana and t.startswith("📣")
    )
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        assert await repos.callouts.ref_for_reaction(ana.upper(), stamp) == ref
        assert await repos.callouts.ref_for_reaction(ana, stamp + 1) is None
    before = len(messenger.sent)
    await chat.dispatcher.on_reaction(ana, stamp, "👍🏽", False, chat.next_ts())
    assert received(messenger, ana, before)[0].startswith(f"✅ You're in for {ref}")
    await chat.dispatcher.on_reaction(ana, stamp, "👎", False, chat.next_ts())
    assert received(messenger, ana, before)[-1].startswith("Noted: you can't come")
    await chat.say(net.organizer, f"cancel {ref}")
    async with app.db.transaction() as session:
        assert await Repositories(session, keys).callouts.ref_for_reaction(ana, stamp) is None


async def test_only_the_audience_may_answer_and_others_learn_nothing(
    net: Network, chat: Chat, clock: Clock
) -> None:
    ref = await sent_callout(chat, net, clock)
    late = new_account()
    await join(chat, net, late, "latecomer")  # joined after the fan-out: not asked
    random = "Z9Z9Z9"
    for command in ("yes", "no", "maybe", "take"):
        real = await chat.say(late, f"{command} {ref} 1")
        fake = await chat.say(late, f"{command} {random} 1")
        assert real == en("callout.not_found", ref=ref)
        assert real.replace(ref, "@") == fake.replace(random, "@")
    stranger = new_account()
    assert await chat.say(stranger, f"yes {ref}") == en("stranger.reply")


async def test_answers_close_when_the_action_starts(net: Network, chat: Chat, clock: Clock) -> None:
    (ana,) = await crew(chat, net, 1)
    ref = await sent_callout(chat, net, clock)
    await tick(chat, clock, clock.now + timedelta(days=3, minutes=1))
    assert await chat.say(ana, f"yes {ref}") == en("rsvp.closed", ref=ref)


async def test_callouts_lists_mine_and_my_cells(net: Network, chat: Chat, clock: Clock) -> None:
    (lucia,) = await crew(chat, net, 1, lang="es", prefix="lucia")
    assert await chat.say(lucia, "convocatorias") == es("callouts.none")
    ref = await sent_callout(chat, net, clock, slots="1 driver", people=4)
    await chat.say(lucia, f"si {ref} 1")
    mine = await chat.say(lucia, "convocatorias")
    assert mine.startswith(es("callouts.mine_header"))
    assert mine.endswith("— tú: sí (driver)")
    listing = await chat.say(net.organizer, "callouts")
    assert en("callouts.org_header") in listing
    assert f"{ref} · " in listing and "· sent — yes 1/4, maybe 0, no 0" in listing
