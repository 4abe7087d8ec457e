"""The fan-out: each member of the audience gets the call-out exactly once, in their
language, never the place — across batches, a crash between them, a scheduled send and
a widened audience."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import callout_timers
from bot.app import LanternApp
from bot.callouts import decide_underfill
from bot.context import Context
from storage.members import MemberRepository
from storage.models import Callout, CalloutMember
from tests.callouts import (
    PLACE,
    Clock,
    bulk_members,
    call_out,
    clock_fixture,
    crew,
    en,
    es,
    everything,
    received,
    tick,
)
from tests.conftest import Chat, FakeMessenger, new_account
from tests.network import Network, code_in

__all__ = ["clock_fixture"]  # the fixture, imported for this module


def invitations(messenger: FakeMessenger, ref: str, since: int = 0) -> Counter[str]:
    """How many copies of call-out ``ref`` each account received."""
    return Counter(a for a, t in everything(messenger, since) if t.startswith(("📣",)) and ref in t)


async def state(app: LanternApp) -> tuple[str, int]:
    async with app.db.transaction() as session:
        status = await session.scalar(select(Callout.status))
        asked = await session.scalar(select(func.count()).select_from(CalloutMember))
    return str(status), int(asked or 0)


async def test_fanout_asks_everyone_once_in_their_language_and_never_says_where(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    english = await crew(chat, net, 2)
    (lucia,) = await crew(chat, net, 1, lang="es", prefix="lucia")
    mark = len(messenger.sent)
    ref = await call_out(chat, net.organizer, slots="2 drivers", people=5)
    assert invitations(messenger, ref, mark) == Counter()  # the command only queued work
    assert await state(app) == ("sending", 0)
    after_summary = len(messenger.sent)
    await tick(chat, clock)
    audience = [*english, lucia, net.organizer]
    assert invitations(messenger, ref, mark) == Counter({who: 1 for who in audience})
    spanish = received(messenger, lucia, mark)[-1]
    assert spanish.startswith(es("callout.invite_head", ref=ref, what="Deliver the demand letter"))
    assert es("callout.invite_answer", ref=ref) in spanish
    assert en("callout.invite_answer", ref=ref) in received(messenger, english[0])[-1]
    await tick(chat, clock)
    await tick(chat, clock, clock.now + timedelta(minutes=5))
    assert invitations(messenger, ref, mark) == Counter({who: 1 for who in audience})
    assert all(PLACE not in text for _who, text in everything(messenger, after_summary))
    assert await state(app) == ("sent", 4)


async def test_fanout_in_batches_survives_a_crash_between_them(
    net: Network,
    chat: Chat,
    app: LanternApp,
    messenger: FakeMessenger,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(callout_timers, "BATCH", 4)
    people = await bulk_members(app, net.cell, 13)
    ref = await call_out(chat, net.organizer)
    mark = len(messenger.sent)
    real = MemberRepository.accounts_of
    calls = [0]

    async def crashing(self: MemberRepository, ids: list[str]) -> object:
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("power cut")
        return await real(self, ids)

    monkeypatch.setattr(MemberRepository, "accounts_of", crashing)
    await tick(chat, clock)
    first = invitations(messenger, ref, mark)
    assert sum(first.values()) == 8 and set(first.values()) == {1}  # two batches, then the cut
    assert await state(app) == ("sending", 8)
    monkeypatch.setattr(MemberRepository, "accounts_of", real)  # the bot comes back
    await tick(chat, clock)
    assert invitations(messenger, ref, mark) == Counter({w: 1 for w in [*people, net.organizer]})
    assert await state(app) == ("sent", 14)


async def test_fanout_of_a_scheduled_callout_waits_for_its_send_time(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    ref = await call_out(chat, net.organizer, send="in 2 hours")
    await tick(chat, clock)
    await tick(chat, clock, clock.now + timedelta(minutes=119))
    assert invitations(messenger, ref)[ana] == 0 and (await state(app))[0] == "scheduled"
    await tick(chat, clock, clock.now + timedelta(minutes=1))
    assert invitations(messenger, ref)[ana] == 1 and (await state(app))[0] == "sent"


async def test_fanout_filters_by_language_and_organizers(
    net: Network, chat: Chat, messenger: FakeMessenger, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    (lucia,) = await crew(chat, net, 1, lang="es", prefix="lucia")
    spanish = await call_out(chat, net.organizer, audience="es")
    organizers = await call_out(chat, net.organizer, audience="organizers")
    await tick(chat, clock)
    assert invitations(messenger, spanish) == Counter({lucia: 1})
    assert invitations(messenger, organizers) == Counter({net.organizer: 1})
    assert ana not in invitations(messenger, spanish) | invitations(messenger, organizers)


async def second_cell(chat: Chat, net: Network) -> tuple[str, str, str]:
    """Another cell with its own organizer and one member: (ref, organizer, member)."""
    coordinator = net.coordinators[0]
    reply = await chat.say(coordinator, "cell new Eastside workers")
    ref = reply.split("(ref ")[1][:5]
    code = code_in(await chat.send(coordinator, f"invite {ref} organizer"))
    organizer = new_account()
    for text in (f"join {code}", "en", "eastorga", "yes"):
        await chat.send(organizer, text)
    member = new_account()
    code = code_in(await chat.send(organizer, f"invite {ref} member"))
    for text in (f"join {code}", "en", "eastmember", "yes"):
        await chat.send(member, text)
    return ref, organizer, member


async def test_widening_asks_the_rest_of_the_network_and_nobody_twice(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    (ana,) = await crew(chat, net, 1)
    _cell, east_orga, east_member = await second_cell(chat, net)
    ref = await call_out(chat, net.organizer)
    await tick(chat, clock)
    assert invitations(messenger, ref) == Counter({ana: 1, net.organizer: 1})
    async with app.db.transaction() as session:
        callout_id = str(await session.scalar(select(Callout.id)))

    async def widen(ctx: Context) -> None:
        await decide_underfill(ctx, callout_id, 1, "coord1")

    await chat.dispatcher.timers.in_context(app.vault.keys, clock.now, widen)  # type: ignore[arg-type]
    assert await state(app) == ("sending", 2)
    await tick(chat, clock)
    everyone = [ana, net.organizer, east_orga, east_member]  # coordinators: the council
    assert invitations(messenger, ref) == Counter({who: 1 for who in everyone})
    decided = en("callout.decided", ref=ref, decision=en("callout.opt_widen"), handle="coord1")
    assert received(messenger, net.organizer).count(decided) == 1
    assert decided not in received(messenger, east_orga)  # only the call-out's own cell
