"""An organizer's CANCEL / MOVE / MSG / STATUS, what another cell's organizer learns
(nothing), and the coordinators' prompts about an under-filled call-out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import LanternApp
from storage.members import MemberRepository
from storage.models import Callout, Prompt
from tests.callouts import (
    PLACE,
    WHAT,
    Clock,
    call_out,
    clock_fixture,
    crew,
    en,
    es,
    everything,
    received,
    tick,
    when,
)
from tests.conftest import Chat, FakeMessenger
from tests.network import Network
from tests.test_callouts_fanout import second_cell

__all__ = ["clock_fixture"]  # the fixture, imported for this module
LONG = "EEEE d MMMM y, HH:mm"


async def answered(chat: Chat, net: Network, clock: Clock, **kw: object) -> tuple[str, list[str]]:
    """A sent call-out; members answered yes, maybe (Spanish), no, and one not at all."""
    ana, dee = await crew(chat, net, 2)
    (lucia,) = await crew(chat, net, 1, lang="es", prefix="lucia")
    (cy,) = await crew(chat, net, 1, prefix="cyrus")
    ref = await call_out(chat, net.organizer, **kw)  # type: ignore[arg-type]
    await tick(chat, clock)
    await chat.send(ana, f"yes {ref}")
    await chat.send(lucia, f"quizás {ref}")
    await chat.send(cy, f"no {ref}")
    return ref, [ana, lucia, cy, dee]


async def test_move_and_cancel_tell_exactly_those_who_answered_in_their_language(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    ref, (ana, lucia, cy, dee) = await answered(chat, net, clock)
    later = (clock.now + timedelta(days=4)).replace(hour=11, minute=0)
    mark = len(messenger.sent)
    assert await chat.say(net.organizer, f"move {ref} in 4 days 11:00") == en(
        "callout.move_done", ref=ref, when=when(later, pattern=LONG), count=3
    )
    assert received(messenger, ana, mark) == [
        en("callout.moved_notice", ref=ref, what=WHAT, when=when(later), answer="yes")
    ]
    assert received(messenger, lucia, mark) == [
        es("callout.moved_notice", ref=ref, what=WHAT, when=when(later, "es"), answer="quizás")
    ]
    assert len(received(messenger, cy, mark)) == 1 and received(messenger, dee, mark) == []
    async with app.db.transaction() as session:
        row = (await session.scalars(select(Callout))).one()
    assert row.reveal_at.replace(tzinfo=later.tzinfo) == later - timedelta(hours=2)
    assert await chat.say(net.organizer, f"move {ref} yesterday 10:00") == en(
        "callout.when_past", text="yesterday 10:00"
    )
    mark = len(messenger.sent)
    assert await chat.say(net.organizer, f"cancel {ref}") == en(
        "callout.cancel_done", ref=ref, count=3
    )
    told = {who for who, _text in everything(messenger, mark)}
    assert told == {ana, lucia, cy, net.organizer}
    assert received(messenger, lucia, mark) == [
        es("callout.cancelled_notice", ref=ref, what=WHAT, answer="quizás")
    ]
    assert await chat.say(net.organizer, f"move {ref} tomorrow 10:00") == en(
        "callout.not_open", ref=ref, status="cancelled"
    )


async def test_msg_reaches_only_people_who_said_yes_and_names_no_organizer(
    net: Network, chat: Chat, messenger: FakeMessenger, clock: Clock
) -> None:
    ref, (ana, *_others) = await answered(chat, net, clock)
    mark = len(messenger.sent)
    assert await chat.say(net.organizer, f"msg {ref} Bring water") == en(
        "callout.msg_done", ref=ref, count=1
    )
    assert everything(messenger, mark)[:1] == [
        (ana, en("callout.relay", ref=ref, text="Bring water"))
    ]
    assert {who for who, _t in everything(messenger, mark)} == {ana, net.organizer}
    assert all("orga" not in text for _who, text in everything(messenger, mark))


async def test_status_shows_delivery_answers_roles_and_handles_never_accounts(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref, people = await answered(chat, net, clock, slots="1 driver", people=3)
    await chat.send(people[0], f"take {ref} driver")

    async def no_accounts(*_args: object) -> None:
        raise AssertionError("status decrypted Signal accounts it sends nothing to")

    with monkeypatch.context() as patch:
        patch.setattr(MemberRepository, "accounts_of", no_accounts)
        patch.setattr(MemberRepository, "account_of", no_accounts)
        status = await chat.say(net.organizer, f"status {ref}")
    start = clock.now + timedelta(days=3)
    assert status == "\n".join(
        [
            en("callout.status_head", ref=ref, what=WHAT, when=when(start), status="sent"),
            en("callout.status_delivery", sent=5, queued=0, failed=0),
            en("callout.status_answers", yes=1, maybe=1, no=1, none=2, wanted=3),
            en("callout.status_slots", slots="driver 1/1"),
            en("callout.status_confirmed", handles="member0"),
        ]
    )
    assert not any(account in status for account in [*people, net.organizer])
    assert PLACE not in status


async def test_another_cells_organizer_hears_the_same_for_real_and_random_ids(
    net: Network, chat: Chat, messenger: FakeMessenger, clock: Clock
) -> None:
    _cell, east_orga, _member = await second_cell(chat, net)
    ref = await call_out(chat, net.organizer, slots="1 driver")
    await tick(chat, clock)
    random = "Q7Q7Q7"
    mark = len(messenger.sent)
    for command in ("status", "cancel", "move", "msg", "yes", "no", "maybe", "take"):
        real = await chat.send(east_orga, f"{command} {ref} tomorrow 10:00")
        fake = await chat.send(east_orga, f"{command} {random} tomorrow 10:00")
        assert real == [en("callout.not_found", ref=ref)], command
        assert [t.replace(ref, "@") for t in real] == [t.replace(random, "@") for t in fake]
    assert {who for who, _t in everything(messenger, mark)} == {east_orga}
    listing = await chat.say(east_orga, "callouts")
    assert ref not in listing


async def test_underfill_and_empty_role_ask_the_coordinators_once_and_the_default_applies(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    ref, _people = await answered(chat, net, clock, slots="1 driver", people=3)
    start = clock.now + timedelta(days=3)
    mark = len(messenger.sent)
    await tick(chat, clock, start - timedelta(hours=24, minutes=1))
    assert all(who not in net.coordinators for who, _t in everything(messenger, mark))
    await tick(chat, clock, start - timedelta(hours=24))
    await tick(chat, clock, start - timedelta(hours=23))
    async with app.db.transaction() as session:
        kinds = sorted((await session.scalars(select(Prompt.kind))).all())
    assert kinds == ["slot", "underfill"]
    asked = [t for who, t in everything(messenger, mark) if who in net.coordinators]
    assert len(asked) == 2 and all(ref in t for t in asked) and all(PLACE not in t for t in asked)
    assert any("1 of 3" in t for t in asked) and any("driver 0/1" in t for t in asked)
    assert not any("member0" in t or "lucia" in t for t in asked)  # counts, never people
    for hours in range(22, 0, -1):  # nobody answers: the chain runs out, defaults apply
        await tick(chat, clock, start - timedelta(hours=hours))
    go = en("callout.defaulted", ref=ref, decision=en("callout.opt_go"))
    without = en("callout.defaulted", ref=ref, decision=en("callout.opt_go_without"))
    assert received(messenger, net.organizer).count(go) == 1
    assert received(messenger, net.organizer).count(without) == 1
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Prompt)) == 2
        assert await session.scalar(select(Callout.status)) == "sent"


async def test_coordinators_postpone_an_underfilled_callout_and_people_are_told(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    ref, (ana, _lucia, _cy, dee) = await answered(chat, net, clock, people=3)
    start = clock.now + timedelta(days=3)
    await tick(chat, clock, start - timedelta(hours=24))
    first = next(who for who, t in messenger.sent if who in net.coordinators and ref in t)
    mark = len(messenger.sent)
    await chat.send(first, "2")
    later = start + timedelta(hours=24)
    assert received(messenger, ana, mark) == [
        en("callout.moved_notice", ref=ref, what=WHAT, when=when(later), answer="yes")
    ]
    assert received(messenger, dee, mark) == []
    handle = f"coord{net.coordinators.index(first) + 1}"
    decided = en("callout.decided", ref=ref, decision=en("callout.opt_postpone"), handle=handle)
    assert received(messenger, net.organizer, mark).count(decided) == 1
    async with app.db.transaction() as session:
        row = (await session.scalars(select(Callout))).one()
    assert row.starts_at.replace(tzinfo=later.tzinfo) == later
