"""End to end through the sandbox: a whole case, as Signal users live it.

Rosa (not a member) brings a fight in Spanish, the bot restarts in the middle of her
answers and is unsealed by two coordinators, the organizer assesses, the cell votes (a
tie, then a vote with a late ballot), the campaign climbs the ladder, Rosa and the
organizer talk through the bot, and the case is won.  A member's own fight is declined.
"""

from __future__ import annotations

from datetime import timedelta

from bot.i18n import translate
from sandbox.state import Persona
from storage.models import utcnow
from tests.casework import ANSWERS_EN, ANSWERS_ES, CASE_REF
from tests.live import WEEK, Live


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def inbox(live: Live, person: Persona, since: int, count: int) -> list[str]:
    """What the bot sent ``person`` (not in reply to them) since ``since``."""
    got = await live.state.wait_for_deliveries(person.uuid, count, since=since, timeout=8)
    assert all(item.expires_in_seconds == WEEK for item in got)
    return [item.text or "" for item in got]


async def unseal(live: Live, backlog: int) -> list[tuple[str, str]]:
    c1, c2, _c3 = live.coordinators
    await live.say(c1, f"unseal {live.shares[c1.uuid]}")
    cursor = live.state.last_seq
    await live.state.inject_text(c2.uuid, f"unseal {live.shares[c2.uuid]}")
    got = await live.state.wait_for_deliveries(None, 1 + backlog + 3, since=cursor, timeout=10)
    return [(item.persona or "", item.text or "") for item in got]


async def test_e2e_case_whole_life_in_spanish_and_english(booted_live: Live) -> None:
    live = booted_live
    olga = live.organizer
    assert olga is not None
    await live.say(olga, f"cell intake {live.cell} on Riverside tenants")
    rosa = live.state.create_persona("Rosa")

    assert "Vamos a anotar tu lucha" in await live.say(rosa, "lucha")
    assert await live.talk(rosa, "2", replies=2) == [es("intake.intro"), es("intake.ask_what")]
    assert await live.say(rosa, ANSWERS_ES[0]) == es("intake.ask_target")
    assert await live.say(rosa, ANSWERS_ES[1]) == es("intake.ask_site")

    await live.restart()  # mid-dialog: sealed, then unsealed; the draft is still there
    assert await live.say(rosa, ANSWERS_ES[2]) == en("sealed.received")
    order = await unseal(live, backlog=1)
    assert (rosa.uuid, es("intake.ask_demand")) in order

    assert await live.say(rosa, "lo que sea") == es("intake.ask_others")
    assert await live.say(rosa, "atrás") == es("intake.ask_demand")
    assert await live.say(rosa, ANSWERS_ES[3]) == es("intake.ask_others")
    await live.say(rosa, ANSWERS_ES[4])
    assert await live.say(rosa, "pues") == es("intake.unclear_three")
    for answer in ("1", "sí", ANSWERS_ES[7]):
        await live.say(rosa, answer)
    summary, confirm = await live.talk(rosa, "Rosa", replies=2)
    assert confirm == es("intake.ask_confirm")
    assert ANSWERS_ES[2] in summary and "lo que sea" not in summary
    cursor = live.state.last_seq
    done = await live.say(rosa, "sí")
    found = CASE_REF.search(done)
    assert found is not None
    ref = found.group(1)
    [announce] = await inbox(live, olga, cursor, 1)
    assert announce.startswith(f"New case {ref} from Rosa")
    assert ANSWERS_ES[0] in await live.say(olga, f"case {ref}")

    ana = live.state.create_persona("Ana")
    ben = live.state.create_persona("Ben")
    await live.join(ana, "ana_r", lang="2")
    await live.join(ben, "ben_w")

    await live.say(olga, f"assess {ref}")
    for answer in ("1", "1", "1", "1", "3"):
        await live.say(olga, answer)
    cursor = live.state.last_seq
    assert (await live.say(olga, "Acme fears the press")).startswith(f"Assessment of {ref}")
    assert await inbox(live, rosa, cursor, 1) == [es("subject.assessing", ref=ref)]

    # a tie: one yes, one no, one abstain — counted as soon as everyone voted
    await live.talk(olga, f"vote {ref} 24", replies=2)
    await live.say(ana, f"votar {ref} sí")
    await live.say(ben, f"vote {ref} no")
    recorded, counted = await live.talk(olga, f"vote {ref} abstain", replies=2)
    assert recorded.startswith(
        en("vote.recorded", ref=ref, choice="abstain", deadline="\x00").split("\x00")[0]
    )
    assert counted == en("vote.result_tie", ref=ref, yes=1, no=1, abstain=1)

    # a second vote; Ben's ballot arrives after the deadline and is not counted
    await live.talk(olga, f"vote {ref} 1", replies=2)
    await live.say(ana, f"votar {ref} sí")
    later = utcnow() + timedelta(hours=2)
    live.app.dispatcher.clock = lambda: later
    cursor = live.state.last_seq
    result, too_late = await live.talk(ben, f"vote {ref} no", replies=2)
    assert result == en("vote.result_passed", ref=ref, yes=1, no=0, abstain=0)
    assert too_late.startswith(en("vote.too_late", ref=ref, deadline="\x00").split("\x00")[0])

    await live.say(olga, f"next {ref}")
    assert await inbox(live, rosa, cursor, 3) == [
        es("subject.accepted", ref=ref),
        es("subject.active", ref=ref),
        es("subject.rung", ref=ref, rung=es("ladder.letter")),
    ]
    cursor = live.state.last_seq
    await live.say(olga, f"reply {ref} Tuesday 7pm at the building?")
    assert await inbox(live, rosa, cursor, 1) == [
        es("relay.to_subject", ref=ref, text="Tuesday 7pm at the building?")
    ]
    cursor = live.state.last_seq
    await live.say(rosa, f"responder {ref} Sí, allí estaré")
    assert await inbox(live, olga, cursor, 1) == [
        en("relay.from_subject", ref=ref, handle="Rosa", text="Sí, allí estaré")
    ]
    await live.say(olga, f"close {ref} won 7200 every deposit back")
    assert await live.say(rosa, "casos") == "\n".join(
        [es("cases.own_header"), es("cases.own_line", ref=ref, status="cerrado (ganado)")]
    )
    for item in live.state.deliveries(persona=rosa.uuid):
        assert "olga" not in (item.text or "").casefold(), "the subject never learns who"


async def test_e2e_member_fight_declined_with_a_kind_reason(booted_live: Live) -> None:
    live = booted_live
    olga = live.organizer
    assert olga is not None
    await live.say(olga, f"cell intake {live.cell} on Riverside tenants")
    ben = live.state.create_persona("Ben")
    await live.join(ben, "ben_w")
    assert await live.talk(ben, "intake", replies=2) == [en("intake.intro"), en("intake.ask_what")]
    for answer in ANSWERS_EN[:-1]:
        await live.say(ben, answer)
    await live.talk(ben, "cancel it", replies=2)  # an answer (how to reach him), not a command
    assert await live.say(ben, "back") == en("intake.ask_contact")
    summary, _confirm = await live.talk(ben, ANSWERS_EN[-1], replies=2)
    assert "cancel it" not in summary
    cursor = live.state.last_seq
    done = await live.say(ben, "yes")
    found = CASE_REF.search(done)
    assert found is not None
    ref = found.group(1)
    [announce] = await inbox(live, olga, cursor, 1)
    assert announce == en(
        "case.announce", ref=ref, handle="ben_w", cell="Riverside tenants", cell_ref=live.cell
    )
    cursor = live.state.last_seq
    reason = "The city owns the building; the tenants union is fighting it already"
    assert await live.say(olga, f"decline {ref} {reason}") == en("decline.done", ref=ref, days=90)
    assert await inbox(live, ben, cursor, 1) == [en("subject.declined", ref=ref, reason=reason)]
    assert await live.say(ben, "cases") == "\n".join(
        [en("cases.own_header"), en("cases.own_line", ref=ref, status="closed (declined)")]
    )
