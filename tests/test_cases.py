"""The life of a case after intake, as organizers, members and the subject live it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from babel.dates import format_datetime
from sqlalchemy import func, select

from bot.app import LanternApp
from bot.i18n import translate
from storage.models import Case, CaseEvent, CaseVote, Outcome, utcnow
from tests.casework import Case as Fight
from tests.casework import bring_fight, open_intake
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


def when(moment: datetime, language: str = "en") -> str:
    return str(format_datetime(moment, "EEE d MMM, HH:mm", tzinfo=UTC, locale=language))


def last(messenger: FakeMessenger, account: str, n: int = 1) -> list[str]:
    return [t for a, t in messenger.sent if a == account][-n:]


async def fight(chat: Chat, net: Network, lang: str = "en") -> Fight:
    await open_intake(chat, net)
    return await bring_fight(chat, new_account(), lang=lang, name="Rosa")


async def assess(chat: Chat, organizer: str, ref: str, comment: str = "-") -> str:
    await chat.send(organizer, f"assess {ref}")
    for answer in ("1", "1", "1", "1", "1"):
        await chat.send(organizer, answer)
    return await chat.say(organizer, comment)


async def status(app: LanternApp) -> str:
    async with app.db.transaction() as session:
        found = await session.scalar(select(Case.status))
    return str(found)


async def test_case_full_life_subject_hears_every_step(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    case = await fight(chat, net, lang="es")
    orga, ref = net.organizer, case.ref
    hint = en("hint.new", ref=ref)
    assert hint in await chat.say(orga, f"case {ref}")
    done = await assess(chat, orga, ref, "landlord fears the press")
    assert done.startswith(en("assess.done", ref=ref, summary="\x00", hint="").split("\x00")[0])
    assert last(messenger, case.subject) == [es("subject.assessing", ref=ref)]
    opened = await chat.send(orga, f"vote {ref} 24")
    assert opened[-1].startswith(
        en("vote.opened", ref=ref, count=1, deadline="\x00").split("\x00")[0]
    )
    assert last(messenger, case.subject) == [es("subject.voting", ref=ref)]
    await chat.send(orga, f"vote {ref} yes")  # everyone in the cell voted: counted at once
    assert await status(app) == "accepted"
    assert last(messenger, case.subject) == [es("subject.accepted", ref=ref)]
    ladder = await chat.say(orga, f"ladder {ref}")
    assert "· 1. " + en("ladder.letter") in ladder
    assert await chat.say(orga, f"next {ref}") == en(
        "next.done", ref=ref, number=1, total=4, rung=en("ladder.letter")
    )
    assert last(messenger, case.subject, 2) == [
        es("subject.active", ref=ref),
        es("subject.rung", ref=ref, rung=es("ladder.letter")),
    ]
    await chat.send(orga, f"next {ref}")
    assert "✓ 1." in (ladder := await chat.say(orga, f"ladder {ref}")) and "▶ 2." in ladder
    assert await chat.say(orga, f"close {ref} won $1,200 every deposit back") == en(
        "close.done", ref=ref, days=90
    )
    won, invitation = last(messenger, case.subject, 2)  # the outcome, then the covenant
    assert won == es("subject.won", ref=ref)
    assert invitation.startswith(es("covenant.won", ref=ref))
    assert await chat.say(case.subject, "casos") == "\n".join(
        [es("cases.own_header"), es("cases.own_line", ref=ref, status="cerrado (ganado)")]
    )
    async with app.db.transaction() as session:
        outcome = (await session.scalars(select(Outcome))).one()
    assert (outcome.outcome, outcome.count, outcome.amount) == ("won", 1, 1200)
    assert (await chat.send(net.coordinators[0], "status"))[-1] == en(
        "status.outcomes", won=1, settled=0, lost=0, declined=0, amount=1200
    )
    details = await chat.say(orga, f"case {ref}")
    for line in ("→ accepted", "climbed to", "→ campaign under way", "→ won", "→ closed"):
        assert line in details


async def test_case_decline_needs_a_reason_and_reaches_the_subject_kindly(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    case = await fight(chat, net)
    orga, ref = net.organizer, case.ref
    assert await chat.say(orga, f"decline {ref}") == en("decline.need_reason", ref=ref)
    reason = "It is a fight with the city, not a landlord; try the tenants union"
    assert await chat.say(orga, f"decline {ref} {reason}") == en("decline.done", ref=ref, days=90)
    assert last(messenger, case.subject) == [en("subject.declined", ref=ref, reason=reason)]
    assert await status(app) == "closed"
    assert await chat.say(case.subject, f"reply {ref} why?") == en("reply.closed", ref=ref)
    assert await chat.say(orga, f"accept {ref}") == en(
        "case.wrong_status",
        ref=ref,
        status="closed (declined)",
        hint=en("hint.closed", ref=ref),
    )


async def test_case_vote_tie_returns_to_assessing_then_a_late_vote_is_refused(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    case = await fight(chat, net)
    orga, ref = net.organizer, case.ref
    ana, ben, cy = new_account(), new_account(), new_account()
    await join(chat, net, ana, "ana")
    await join(chat, net, ben, "ben", lang="es")
    await join(chat, net, cy, "cyd")
    await assess(chat, orga, ref)
    await chat.send(orga, f"vote {ref} 2")
    call = last(messenger, ben)[0]
    assert call.startswith(
        es("vote.call", ref=ref, what="\x00", demand="", deadline="").split("\x00")[0]
    )
    assert "Rosa" not in call and "Oak" not in call and "evenings" not in call
    assert (await chat.say(ana, f"vote {ref} yes")).startswith(
        en("vote.recorded", ref=ref, choice="yes", deadline="\x00").split("\x00")[0]
    )
    assert (await chat.say(ana, f"vote {ref} no")).startswith(
        en("vote.changed", ref=ref, choice="no", deadline="\x00").split("\x00")[0]
    )
    await chat.send(ben, f"votar {ref} sí")
    await chat.send(orga, f"vote {ref} abstain")
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CaseVote)) == 3
    later = utcnow() + timedelta(hours=3)
    chat.dispatcher.clock = lambda: later
    assert await chat.dispatcher.timers.tick() == 1
    assert last(messenger, ana) == [en("vote.result_tie", ref=ref, yes=1, no=1, abstain=1)]
    assert last(messenger, ben) == [es("vote.result_tie", ref=ref, yes=1, no=1, abstain=1)]
    assert await status(app) == "assessing"
    assert await chat.say(cy, f"vote {ref} yes") == en("vote.closed", ref=ref)
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CaseVote)) == 0

    await chat.send(orga, f"vote {ref} 1")
    await chat.send(ana, f"vote {ref} yes")
    after_deadline = later + timedelta(hours=2)
    chat.dispatcher.clock = lambda: after_deadline
    deadline = when((later + timedelta(hours=1, minutes=1)).replace(second=0, microsecond=0))
    too_late = await chat.send(cy, f"vote {ref} no")
    assert too_late[-1] == en("vote.too_late", ref=ref, deadline=deadline)
    assert await status(app) == "accepted", "1 yes (ana), the late no not counted"


async def test_case_transitions_are_enforced_with_a_way_forward(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    case = await fight(chat, net)
    orga, ref = net.organizer, case.ref
    for command in (f"accept {ref}", f"vote {ref}", f"next {ref}", f"close {ref} won"):
        assert await chat.say(orga, command) == en(
            "case.wrong_status", ref=ref, status="new", hint=en("hint.new", ref=ref)
        )
    assert await chat.say(orga, f"ladder {ref}") == en(
        "ladder.none", ref=ref, hint=en("hint.new", ref=ref)
    )
    await assess(chat, orga, ref)
    assert await chat.say(orga, f"close {ref} maybe") == en("close.usage", ref=ref)
    await chat.send(orga, f"accept {ref}")
    for _ in range(4):
        await chat.send(orga, f"next {ref}")
    assert await chat.say(orga, f"next {ref}") == en("ladder.top", ref=ref)
    await chat.send(orga, f"close {ref} settled")
    async with app.db.transaction() as session:
        events = await session.scalar(select(func.count()).select_from(CaseEvent))
    assert events is not None and events >= 10


async def test_case_relay_both_ways_without_identities(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    case = await fight(chat, net)
    orga, ref = net.organizer, case.ref
    assert await chat.say(orga, f"reply {ref} Can we meet Tuesday?") == en(
        "reply.sent_to_subject", ref=ref
    )
    to_subject = last(messenger, case.subject)[0]
    assert to_subject == en("relay.to_subject", ref=ref, text="Can we meet Tuesday?")
    assert "orga" not in to_subject
    assert await chat.say(case.subject, f"reply {ref} Yes, after 6") == en(
        "reply.sent_to_organizers", ref=ref
    )
    assert last(messenger, orga) == [
        en("relay.from_subject", ref=ref, handle="Rosa", text="Yes, after 6")
    ]
    assert case.subject not in last(messenger, orga)[0]
    history = await chat.say(orga, f"case {ref}")
    assert "Can we meet Tuesday?" in history and "Yes, after 6" in history
    assert await chat.say(orga, f"note {ref} Rosa is scared of retaliation") == en(
        "note.saved", ref=ref
    )
    assert "scared of retaliation" not in "".join(t for a, t in messenger.sent if a == case.subject)


async def test_case_closed_cases_are_shredded_after_retention_unless_kept(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    orga = net.organizer
    gone = await fight(chat, net)
    kept = await bring_fight(chat, new_account(), name="Sol")
    for case in (gone, kept):
        await chat.send(orga, f"decline {case.ref} not our area")
    assert await chat.say(orga, f"keep {kept.ref}") == en("keep.on", ref=kept.ref, days=90)
    later = utcnow() + timedelta(days=91)
    chat.dispatcher.clock = lambda: later
    assert await chat.dispatcher.timers.tick() == 1
    assert await chat.say(orga, f"case {gone.ref}") == en("case.not_found", ref=gone.ref)
    assert kept.ref in await chat.say(orga, f"case {kept.ref}")
    assert await chat.say(gone.subject, "cases") == en("cases.none")
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 1
        outcome = (await session.scalars(select(Outcome))).one()
    assert (outcome.outcome, outcome.count) == ("declined", 2)


async def test_case_spanish_organizer_works_in_spanish(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    case = await fight(chat, net)
    coordinator = net.coordinators[0]
    code = (await chat.send(coordinator, f"invite {net.cell} organizer"))[-1]
    marta = new_account()
    await chat.send(marta, f"join {code}")
    await chat.send(marta, "es")
    await chat.send(marta, "marta")
    await chat.send(marta, "sí")
    queue = await chat.say(marta, "casos")
    assert queue.startswith(es("cases.queue_header")) and case.ref in queue
    assert es("hint.new", ref=case.ref) in await chat.say(marta, f"caso {case.ref}")
    assert (await chat.say(marta, f"evaluar {case.ref}")).startswith("Evaluando")
    await chat.send(marta, "cancelar")
    assert await chat.say(marta, f"rechazar {case.ref} fuera de zona") == es(
        "decline.done", ref=case.ref, days=90
    )
    assert last(messenger, case.subject) == [
        en("subject.declined", ref=case.ref, reason="fuera de zona")
    ]


async def test_case_powers_withheld_from_an_organizer_whose_phone_changed(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    case = await fight(chat, net)
    orga, ref = net.organizer, case.ref
    messenger.change_identity(orga)
    messenger.changed.discard(orga)  # sends still work: only the key differs
    assert await chat.send(orga, f"case {ref}") == [en("quarantine.withheld")]
    assert await chat.say(orga, "cases") == en("cases.none")
    assert await chat.say(orga, f"reply {ref} hi") == en("case.not_found", ref=ref)
    assert await chat.say(orga, f"vote {ref} yes") == en("vote.not_open", ref=ref)
    assert en("relay.to_subject", ref=ref, text="hi") not in [
        t for a, t in messenger.sent if a == case.subject
    ]


def test_close_amount_is_read_only_when_it_looks_like_one() -> None:
    from handlers.decisions import parse_amount

    assert parse_amount("1,200 deposits back") == (1200, "deposits back")
    assert parse_amount("$350.50") == (350, "")
    assert parse_amount("1.200,00€ fianza") == (1200, "fianza")
    assert parse_amount("all six deposits") == (0, "all six deposits")
    assert parse_amount("3000000000000000 nonsense") == (0, "3000000000000000 nonsense")
