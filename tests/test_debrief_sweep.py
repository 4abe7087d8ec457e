"""Asking for debriefs after an action (bot/debrief_timers.py), and attendance."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot import debrief_timers
from bot.app import LanternApp
from bot.context import ROUTINE, Context, Outgoing
from bot.i18n import translate
from storage.models import Callout, CalloutMember, utcnow
from storage.repositories import Repositories
from tests.conftest import Chat, FakeMessenger
from tests.network import Network
from tests.test_debrief import WHAT, Action, Crew, crew, make_action


async def tick(chat: Chat) -> None:
    """One timer tick, and whatever it queued sent (routine messages may wait for the
    outbox's own loop, which tests do not run)."""
    await chat.dispatcher.timers.tick()
    await chat.dispatcher.outbox.flush_due()


def invitations(messenger: FakeMessenger, start: int = 0) -> dict[str, list[str]]:
    """Debrief invitations sent since ``start``, per account."""
    found: dict[str, list[str]] = {}
    for account, text in messenger.sent[start:]:
        if text.startswith(("How did", "¿Cómo fue")):
            found.setdefault(account, []).append(text)
    return found


def invite(language: str, action: Action) -> str:
    return translate(language, "debrief.invite", what=WHAT, ref=action.ref)


async def answered(
    app: LanternApp, net: Network, people: Crew, *, starts_at: datetime, status: str = "sent"
) -> Action:
    answers: dict[str, str | None] = {
        people.ana: "yes",
        people.bea: "yes",
        people.cy: "no",
        people.dee: "maybe",
    }
    return await make_action(app, net.cell, answers, starts_at=starts_at, status=status)


async def debriefed(app: LanternApp, action: Action) -> bool:
    async with app.db.transaction() as session:
        found = await session.scalar(select(Callout.debriefed).where(Callout.id == action.id))
    return bool(found)


async def attendance(app: LanternApp, account: str, since: datetime) -> int:
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        member = await repos.members.by_account(account)
        assert member is not None
        return await repos.debriefs.attendance(member.id, since=since)


async def test_debrief_invitation_once_after_the_action_to_organizers_and_confirmed(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await crew(chat, net)
    starts = utcnow() + timedelta(hours=1)
    action = await answered(app, net, people, starts_at=starts)
    start = len(messenger.sent)
    chat.dispatcher.clock = lambda: starts + timedelta(hours=2, minutes=59)
    await tick(chat)
    assert invitations(messenger, start) == {}
    chat.dispatcher.clock = lambda: starts + timedelta(hours=3, minutes=1)
    await tick(chat)
    assert invitations(messenger, start) == {
        net.organizer: [invite("en", action)],
        people.ana: [invite("en", action)],
        people.bea: [invite("es", action)],
    }
    assert await debriefed(app, action)
    chat.dispatcher.clock = lambda: starts + timedelta(hours=30)
    await tick(chat)
    assert sum(len(t) for t in invitations(messenger, start).values()) == 3, "asked once"
    since = starts - timedelta(days=1)
    counts = [await attendance(app, p, since) for p in (people.ana, people.bea, people.cy)]
    assert counts == [1, 1, 0]
    assert await attendance(app, people.ana, starts + timedelta(minutes=1)) == 0


async def test_debrief_invitations_are_routine_priority_and_claimed_once(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await crew(chat, net)
    action = await answered(app, net, people, starts_at=utcnow() - timedelta(hours=4))
    keys = app.vault.keys
    assert keys is not None
    made: list[list[Outgoing]] = []

    async def work(ctx: Context) -> None:
        await debrief_timers.ask(ctx, callout_id=action.id)
        made.append(list(ctx.outgoing))

    for _ in range(2):
        await chat.dispatcher.timers.in_context(keys, utcnow(), work)
    assert len(made[0]) == 3 and {o.priority for o in made[0]} == {ROUTINE}
    assert not any(o.sensitive for o in made[0])
    assert made[1] == [], "the second claim finds it done"


async def test_debrief_missed_while_down_asked_once_stale_and_cancelled_not_at_all(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await crew(chat, net)
    now = utcnow()
    missed = await answered(app, net, people, starts_at=now - timedelta(hours=20))
    stale = await answered(app, net, people, starts_at=now - timedelta(days=9))
    called_off = await answered(
        app, net, people, starts_at=now - timedelta(hours=20), status="cancelled"
    )
    start = len(messenger.sent)
    chat.dispatcher.clock = lambda: now
    await tick(chat)
    await tick(chat)
    sent = invitations(messenger, start)
    assert sent[people.ana] == [invite("en", missed)]
    assert sent[people.bea] == [invite("es", missed)]
    assert await debriefed(app, stale), "too late to ask: marked, attendance recorded"
    assert not await debriefed(app, called_off)
    since = now - timedelta(days=30)
    assert await attendance(app, people.ana, since) == 2  # missed + stale; never cancelled
    assert await attendance(app, people.dee, since) == 0


async def test_debrief_attendance_already_recorded_is_kept(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await crew(chat, net)
    action = await answered(app, net, people, starts_at=utcnow() - timedelta(hours=5))
    async with app.db.transaction() as session:
        await session.execute(  # e.g. an organizer recorded a no-show
            update(CalloutMember)
            .where(CalloutMember.callout_id == action.id, CalloutMember.answer == "yes")
            .values(attended=False)
        )
    await tick(chat)
    assert await debriefed(app, action)
    since = utcnow() - timedelta(days=1)
    assert await attendance(app, people.ana, since) == 0
