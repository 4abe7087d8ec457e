"""The participation covenant: the subject of a closed fight is invited, once, to give
solidarity in the next one; COUNT ME IN / NOT NOW; the cell sees only counts."""

from __future__ import annotations

from bot import covenant
from bot.app import LanternApp
from storage.models import Covenant
from tests.canary import Canaries, canary_word
from tests.casework import bring_fight, open_intake
from tests.conftest import Chat, FakeMessenger, new_account
from tests.coveragekit import (
    covenants,
    en,
    es,
    fight_to_the_end,
    handler_context,
)
from tests.helpers import join
from tests.network import Network


def invitations(messenger: FakeMessenger, account: str, language: str = "en") -> list[str]:
    prefix = {"en": "Your fight ", "es": "Tu lucha "}[language]
    return [t for a, t in messenger.sent if a == account and t.lstrip("¡").startswith(prefix)]


async def test_covenant_won_case_invites_a_stranger_subject_exactly_once(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    case = await fight_to_the_end(chat, net, lang="es")
    [invitation] = invitations(messenger, case.subject, "es")
    assert invitation == es("covenant.won", ref=case.ref) + "\n\n" + es("covenant.how_stranger")
    sent = [t for a, t in messenger.sent if a == case.subject]
    assert sent[-2:] == [es("subject.won", ref=case.ref), invitation], "after the news"
    # closing again is refused and invites nobody; re-running the hook inserts nothing
    await chat.send(net.organizer, f"close {case.ref} won")
    async with handler_context(app, chat) as ctx:
        found = await ctx.repos.cases.by_ref(case.ref)
        assert found is not None
        await covenant.on_case_closed(ctx, found, "won")
        assert ctx.outgoing == []
    assert len(invitations(messenger, case.subject, "es")) == 1
    [row] = await covenants(app)
    assert row.answer is None and row.gave_at is None


async def test_covenant_member_subject_is_shown_roles_and_signup(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    ana = new_account()
    await join(chat, net, ana, "ana_r")
    case = await fight_to_the_end(chat, net, subject=ana)
    [invitation] = invitations(messenger, ana)
    assert invitation == en("covenant.won", ref=case.ref) + "\n\n" + en("covenant.how_member")
    assert await chat.say(ana, "Count me in!") == en(
        "covenant.yes_member",
        roles="facilitator, outreach, researcher, spokesperson",
        example="facilitator",
    )
    [row] = await covenants(app)
    assert row.answer == "yes"
    assert await chat.say(ana, "count me in") == en("unknown.hint"), "answered: not open"


async def test_covenant_lost_case_thanks_honestly_and_declined_invites_nobody(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    case = await fight_to_the_end(chat, net, outcome="lost")
    [invitation] = invitations(messenger, case.subject)
    assert invitation.startswith(en("covenant.closed", ref=case.ref))
    assert "🎉" not in invitation
    other = new_account()
    declined = await bring_fight(chat, other)
    await chat.send(net.organizer, f"decline {declined.ref} not a fight we can take")
    assert invitations(messenger, other) == []
    assert len(await covenants(app)) == 1


async def test_covenant_not_now_is_honoured_and_never_asked_again(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    case = await fight_to_the_end(chat, net, lang="es")
    assert await chat.say(case.subject, "ahora no") == es("covenant.later")
    [row] = await covenants(app)
    assert row.answer == "later" and row.answered_at is not None
    assert await chat.say(case.subject, "Ahora no") == en("stranger.reply")
    # a later fight of the same person: no second invitation, as promised
    again = await fight_again(chat, net, case.subject)
    assert len(invitations(messenger, case.subject, "es")) == 1, again
    assert len(await covenants(app)) == 1


async def fight_again(chat: Chat, net: Network, subject: str) -> str:
    """The same stranger brings and wins a second fight."""
    second = await bring_fight(chat, subject, lang="es")
    orga, ref = net.organizer, second.ref
    await chat.send(orga, f"assess {ref}")
    for answer in ("1", "1", "1", "1", "1", "-"):
        await chat.send(orga, answer)
    await chat.send(orga, f"accept {ref}")
    await chat.send(orga, f"next {ref}")
    await chat.send(orga, f"close {ref} won")
    return ref


async def test_covenant_count_me_in_from_a_stranger_reaches_the_organizers(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    case = await fight_to_the_end(chat, net, lang="es")
    start = len(messenger.sent)
    assert await chat.say(case.subject, "¡Cuenta conmigo!") == es("covenant.yes_stranger")
    to_organizer = [t for a, t in messenger.sent[start:] if a == net.organizer]
    assert to_organizer == [en("covenant.wants_to_join", ref=case.ref, name="Rosa", cell=net.cell)]
    assert {a for a, _t in messenger.sent[start:]} == {case.subject, net.organizer}
    [row] = await covenants(app)
    assert row.answer == "yes"


async def test_covenant_answers_from_anyone_else_are_the_usual_fallback(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    await fight_to_the_end(chat, net)  # someone has an open invitation; not these people
    stranger, member = new_account(), new_account()
    await join(chat, net, member, "ben_r")
    baseline = await chat.say(stranger, "hello")
    for text in ("count me in", "COUNT ME IN", "cuenta conmigo", "not now", "ahora no"):
        assert await chat.say(stranger, text) == baseline == en("stranger.reply")
        assert await chat.say(member, text) == en("unknown.hint")
    [row] = await covenants(app)
    assert row.answer is None


async def test_covenant_gave_counts_after_a_later_sign_up(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    """The role sign-up and call-out yes call ``covenant.gave``: here it is called as
    they do, with the sender's context (their wiring is tested in their modules)."""
    ana, ben = new_account(), new_account()
    await join(chat, net, ana, "ana_r")
    await join(chat, net, ben, "ben_r")
    await fight_to_the_end(chat, net, subject=ana)
    await chat.send(ana, "count me in")
    async with handler_context(app, chat, ben) as ctx:
        await covenant.gave(ctx)  # someone never invited: nothing to count
    [row] = await covenants(app)
    assert row.gave_at is None
    async with handler_context(app, chat, ana.upper()) as ctx:  # accounts match any case
        await covenant.gave(ctx)
    [row] = await covenants(app)
    assert row.gave_at is not None
    first = row.gave_at
    async with handler_context(app, chat, ana) as ctx:
        assert await ctx.repos.covenants.gave(ana, now=ctx.now) == 0, "counted once"
    [row] = await covenants(app)
    assert row.gave_at == first
    assert (await chat.say(net.organizer, "coverage")).endswith(
        en("coverage.covenant", invited=1, said_yes=1, gave=1)
    )


async def test_covenant_rows_hold_no_plaintext(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    canaries = Canaries()
    name = canary_word("Nm")
    subject = canaries.add_uuid("account", new_account())
    await open_intake(chat, net)
    case = await bring_fight(chat, subject, name=name)
    canaries.add_text("name", name)
    canaries.add_text("ref", case.ref)
    orga = net.organizer
    await chat.send(orga, f"assess {case.ref}")
    for answer in ("1", "1", "1", "1", "1", "-"):
        await chat.send(orga, answer)
    for command in ("accept", "next", "close"):
        await chat.send(orga, f"{command} {case.ref}" + (" won" if command == "close" else ""))
    await chat.send(subject, "count me in")
    rows = await covenants(app)
    assert len(rows) == 1 and rows[0].answer == "yes"
    blob = b"|".join(
        value if isinstance(value, bytes) else str(value).encode()
        for row in rows
        for value in (getattr(row, c.name) for c in Covenant.__table__.columns)
    )
    assert canaries.hits(blob) == []
    assert canaries.hits(blob + subject.encode()) != [], "the scan itself finds a canary"
