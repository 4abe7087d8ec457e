"""Members' roles, skills and pauses through the real dispatcher, in English and Spanish,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.i18n import translate
from bot.roles import EVENING, WEEKENDS, load_catalogue
from handlers.skills import parse_duration
from storage.models import utcnow
from storage.repositories import Repositories
from tests.callouts import Clock, clock_fixture, crew  # noqa: F401  (fixture)
from tests.conftest import Chat, new_account
from tests.network import Network

CATALOGUE = load_catalogue()


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def member_id(chat: Chat, account: str) -> str:
    dispatcher = chat.dispatcher
    assert dispatcher.vault.keys is not None
    async with dispatcher.db.transaction() as session:
        member = await Repositories(session, dispatcher.vault.keys).members.by_account(account)
        assert member is not None
        return member.id


async def held(chat: Chat, account: str) -> dict[str, str | None]:
    dispatcher, who = chat.dispatcher, await member_id(chat, account)
    assert dispatcher.vault.keys is not None
    async with dispatcher.db.transaction() as session:
        return await Repositories(session, dispatcher.vault.keys).roles.held(who)


async def test_signup_and_drop_in_english_with_plurals_and_aliases(
    net: Network, chat: Chat
) -> None:
    [ana] = await crew(chat, net, 1)
    assert await chat.say(ana, "signup legal observers") == en(
        "roles.signed", role="legal observer"
    )
    assert await chat.say(ana, "SIGNUP Driving") == en("roles.signed", role="driver")
    assert await chat.say(ana, "signup driver") == en("roles.already", role="driver")
    assert await held(chat, ana) == {"legal_observer": None, "driver": None}
    listing = "\n".join(await chat.send(ana, "roles"))
    assert "✅ driver — " in listing and "✅ legal observer — " in listing
    assert "• medic — " in listing
    assert await chat.say(ana, "drop drivers") == en("roles.dropped", role="driver")
    assert await held(chat, ana) == {"legal_observer": None}
    assert await chat.say(ana, "drop medic") == en(
        "roles.not_held", typed="medic", roles="legal observer"
    )
    assert await chat.say(ana, "drop") == en("roles.drop_usage", roles="legal observer")
    assert await held(chat, ana) == {"legal_observer": None}


async def test_signup_drop_and_roles_in_spanish(net: Network, chat: Chat) -> None:
    [rosa] = await crew(chat, net, 1, lang="es")
    assert await chat.say(rosa, "apuntarme observadora legal") == es(
        "roles.signed", role="observador/a legal"
    )
    assert await chat.say(rosa, "APUNTAR conductora") == es("roles.signed", role="conductor/a")
    listing = "\n".join(await chat.send(rosa, "funciones"))
    assert listing.startswith(es("roles.head"))
    assert "✅ conductor/a — Lleva gente" in listing
    assert es("roles.next") in listing
    assert await chat.say(rosa, "dejar conductor") == es("roles.dropped", role="conductor/a")
    assert await held(chat, rosa) == {"legal_observer": None}


async def test_unknown_or_missing_role_answers_with_the_list(net: Network, chat: Chat) -> None:
    [ana] = await crew(chat, net, 1)
    names = ", ".join(r.name("en") for r in CATALOGUE.active())
    assert await chat.say(ana, "signup astronaut") == en(
        "roles.unknown", typed="astronaut", roles=names
    )
    assert await chat.say(ana, "signup") == en("roles.signup_usage", typed="", roles=names)
    assert await chat.say(ana, "drop medic") == en("roles.none_held")
    assert await held(chat, ana) == {}


async def test_translator_needs_pairs_and_can_change_them(net: Network, chat: Chat) -> None:
    [ana] = await crew(chat, net, 1)
    assert await chat.say(ana, "signup translator") == en(
        "roles.pairs_needed", role="translator", word="signup"
    )
    assert await chat.say(ana, "signup translator english") == en(
        "roles.pairs_needed", role="translator", word="signup"
    )
    assert await held(chat, ana) == {}
    assert await chat.say(ana, "signup interpreter EN-ES, es>ar") == en(
        "roles.signed_pairs", role="translator", pairs="en-es,es-ar"
    )
    await chat.say(ana, "signup translator fr-en")
    assert await held(chat, ana) == {"translator": "fr-en"}
    assert "✅ translator (fr-en) — " in "\n".join(await chat.send(ana, "roles"))


async def test_translator_in_spanish_the_example_given_works_as_sent(
    net: Network, chat: Chat
) -> None:
    [rosa] = await crew(chat, net, 1, lang="es")
    asked = await chat.say(rosa, "apuntarme traductora")
    assert asked == es("roles.pairs_needed", role="traductor/a", word="apuntarme")
    example = "apuntarme traductor/a en-es"
    assert example in asked
    assert await chat.say(rosa, example) == es(
        "roles.signed_pairs", role="traductor/a", pairs="en-es"
    )
    assert await chat.say(rosa, "apuntar intérprete inglés-español y árabe>francés") == es(
        "roles.signed_pairs", role="traductor/a", pairs="en-es,ar-fr"
    )
    assert await held(chat, rosa) == {"translator": "en-es,ar-fr"}
    assert await chat.say(rosa, "dejar traductor/a") == es("roles.dropped", role="traductor/a")
    assert await held(chat, rosa) == {}


async def test_skills_set_replace_clear_and_refuse_unknown_words(net: Network, chat: Chat) -> None:
    [ana] = await crew(chat, net, 1)
    shown = await chat.say(ana, "skills car, Spanish, evenings and weekends")
    assert "car, Spanish" in shown and "evenings, weekends" in shown
    dispatcher, who = chat.dispatcher, await member_id(chat, ana)
    assert dispatcher.vault.keys is not None
    async with dispatcher.db.transaction() as session:
        repo = Repositories(session, dispatcher.vault.keys).roles
        assert await repo.skills(who) == {"car", "lang:es"}
        assert await repo.availability(who) == EVENING | WEEKENDS
    refused = await chat.say(ana, "skills bike, juggling, mornings")
    assert refused == en("skills.unknown", words="bike, juggling, mornings")
    async with dispatcher.db.transaction() as session:  # nothing half-saved
        assert await Repositories(session, dispatcher.vault.keys).roles.skills(who) == {
            "car",
            "lang:es",
        }
    refused = await chat.say(ana, "skills car, childcare")
    assert refused == "\n".join(
        [en("skills.unknown", words="car, childcare"), en("skills.is_role", role="childcare")]
    )
    assert "bike" in await chat.say(ana, "skills bike")
    assert await chat.say(ana, "skills none") == en("skills.cleared")
    assert en("skills.nothing") in await chat.say(ana, "skills")


async def test_skills_in_spanish_with_phrases(net: Network, chat: Chat) -> None:
    [rosa] = await crew(chat, net, 1, lang="es")
    shown = await chat.say(rosa, "habilidades coche, árabe, noches y fines de semana")
    assert "coche" in shown and "árabe" in shown
    assert "noches, fines de semana" in shown


async def test_pause_and_resume_in_both_languages(net: Network, chat: Chat) -> None:
    [ana] = await crew(chat, net, 1)
    [rosa] = await crew(chat, net, 1, lang="es", prefix="rosa")
    limit = chat.dispatcher.settings.pause_max_days
    assert await chat.say(ana, "pause") == en("pause.usage", max=limit)
    assert await chat.say(ana, "pause a while") == en("pause.usage", max=limit)
    assert await chat.say(ana, f"pause {limit + 1} days") == en("pause.usage", max=limit)
    done = await chat.say(ana, "pause 2 weeks")
    assert done.startswith("Rest well.") and "RESUME" in done
    assert "⏸" in "\n".join(await chat.send(ana, "roles"))
    assert await chat.say(ana, "resume") == en("pause.resumed")
    assert await chat.say(ana, "resume") == en("pause.not_paused")
    assert await chat.say(rosa, "pausa") == es("pause.usage", max=limit)
    done = await chat.say(rosa, "pausa dos semanas")
    assert done.startswith("Descansa.") and "VOLVER" in done
    assert "⏸ Estás en pausa" in "\n".join(await chat.send(rosa, "roles"))
    assert await chat.say(rosa, "volver") == es("pause.resumed")
    assert await chat.say(rosa, "reanudar") == es("pause.not_paused")


def test_durations_people_type() -> None:
    cases = {
        "2 weeks": 14,
        "10 días": 10,
        "un mes": 30,
        "3w": 21,
        "una semana": 7,
        "1 day": 1,
        "dos semanas": 14,
        "two weeks": 14,
        "for 3 days.": 3,
        "2 semanas.": 14,
        "un par de semanas": 14,
        "a couple of weeks": 14,
        "durante 10 DÍAS": 10,
    }
    for text, days in cases.items():
        assert parse_duration(text) == days, text
    for text in ("soon", "0 days", "weeks", "2 fortnights", "", "10 days ago", "twenty weeks"):
        assert parse_duration(text) is None, text


@pytest.mark.parametrize(
    ("lang", "pause", "resume"),
    [("en", "pause 10 days", "resume"), ("es", "pausa 10 días", "volver")],
)
async def test_a_pause_ends_with_one_welcome_back(
    net: Network, chat: Chat, clock: Clock, lang: str, pause: str, resume: str
) -> None:
    [ana] = await crew(chat, net, 1, lang=lang)
    assert (await chat.say(ana, pause)).startswith(translate(lang, "pause.done", until="")[:8])
    clock.now += timedelta(days=9)
    await chat.dispatcher.timers.tick()
    await chat.dispatcher.outbox.flush_due()
    before = len(chat.messenger.sent)
    clock.now += timedelta(days=1, minutes=1)
    for _ in range(2):  # a second tick finds nothing left to do
        await chat.dispatcher.timers.tick()
        await chat.dispatcher.outbox.flush_due()
    got = [t for a, t in chat.messenger.sent[before:] if a == ana]
    assert got == [translate(lang, "pause.over")]
    assert await chat.say(ana, resume) == translate(lang, "pause.not_paused")


async def test_roles_commands_are_for_members_only(net: Network, chat: Chat) -> None:
    stranger = new_account()
    for text in ("roles", "signup driver", "skills car", "pause 2 weeks", "resume"):
        assert await chat.say(stranger, text) == en("stranger.reply")


async def test_help_lists_the_new_commands(net: Network, chat: Chat) -> None:
    [ana] = await crew(chat, net, 1)
    shown = "\n".join(await chat.send(ana, "help"))
    for key in ("help.roles", "help.signup", "help.drop", "help.skills", "help.pause"):
        assert en(key) in shown
    assert en("help.resume") in shown
    assert en("help.addrole") not in shown  # coordinators only


async def test_a_pause_set_before_stays_in_the_database_as_a_time_only(
    net: Network, chat: Chat
) -> None:
    """The column the fan-out filters on: a plain time, no reason, nothing else."""
    [ana] = await crew(chat, net, 1)
    await chat.say(ana, "pause 1 week")
    dispatcher, who = chat.dispatcher, await member_id(chat, ana)
    assert dispatcher.vault.keys is not None
    async with dispatcher.db.transaction() as session:
        until = await Repositories(session, dispatcher.vault.keys).roles.paused_until(who)
    assert until is not None
    assert timedelta(days=6, hours=23) < until - utcnow() <= timedelta(days=7, minutes=1)
