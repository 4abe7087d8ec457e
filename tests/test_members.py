"""Membership basics through the real dispatcher and router, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from storage.models import utcnow
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import invite, join
from tests.network import Network


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def test_stranger_gets_one_reply_for_anything(chat: Chat) -> None:
    stranger = new_account()
    for text in ("hello", "me", "leave", "lang es", "", "JOIN", "🙂"):
        replies = await chat.send(stranger, text)
        assert len(replies) == 1
    assert (await chat.say(stranger, "me")) == en("stranger.reply")
    assert (await chat.say(stranger, "leave")) == en("stranger.reply")
    assert (await chat.say(stranger, "join")) == en("join.need_code")


async def test_join_full_flow_in_spanish(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    ana = new_account()
    code = await invite(chat, net)
    ask = await chat.say(ana, f"UNIRSE {code.lower()}")
    assert "1. English" in ask
    assert "2. Español" in ask
    assert [t for t in messenger.timers if t[0] == ana] == [(ana, app.settings.disappearing_timer)]
    assert (await chat.say(ana, "2")).startswith("Elige un alias")
    notice = await chat.say(ana, "ana_rojas")
    assert "ana_rojas" in notice
    assert "1 semana" in notice
    assert (await chat.say(ana, "sí")) == es(
        "join.done", handle="ana_rojas", cell="Riverside tenants", ref=net.cell
    )
    me = await chat.say(ana, "yo")
    assert "alias: ana_rojas" in me
    assert "idioma: Español" in me
    assert "rol: miembro" in me


async def test_join_commands_are_case_insensitive_with_optional_slash(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    ben = new_account()
    code = await invite(chat, net)
    assert "Welcome" in await chat.say(ben, f"/JoIn   {code}")
    await chat.say(ben, "English")
    await chat.say(ben, "ben.w")
    await chat.say(ben, "Yes!")
    assert "handle: ben.w" in await chat.say(ben, "/ME")


async def test_join_rejects_bad_expired_and_used_codes_alike(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    expired = await invite(chat, net)
    person = new_account()
    assert await chat.say(person, "join AAAAA-BBBBB-CCCCC") == en("join.bad_code")
    assert await chat.say(person, "join not-a-code") == en("join.bad_code")
    chat.dispatcher.clock = lambda: utcnow() + timedelta(hours=73)
    assert await chat.say(person, f"join {expired}") == en("join.bad_code")


async def test_invite_code_is_single_use(net: Network, chat: Chat, app: LanternApp) -> None:
    code = await invite(chat, net)
    first, second = new_account(), new_account()
    await chat.send(first, f"join {code}")
    await chat.send(second, f"join {code}")  # both may start: the code is used at the end
    for person, handle in ((first, "first"), (second, "second")):
        await chat.send(person, "1")
        await chat.send(person, handle)
    assert await chat.say(first, "yes") == en(
        "join.done", handle="first", cell="Riverside tenants", ref=net.cell
    )
    assert await chat.say(second, "yes") == en("join.code_gone")
    assert await chat.say(second, "me") == en("stranger.reply")


async def test_cancel_mid_join_stores_nothing_and_keeps_code(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    code = await invite(chat, net)
    chris = new_account()
    await chat.send(chris, f"join {code}")
    await chat.send(chris, "1")
    assert await chat.say(chris, "CANCEL") == en("cancel.done_stranger")
    assert await chat.say(chris, "cancel") == en("cancel.nothing")
    await chat.send(chris, f"join {code}")
    await chat.send(chris, "1")
    await chat.send(chris, "maple_7")
    assert await chat.say(chris, "yes") == en(
        "join.done", handle="maple_7", cell="Riverside tenants", ref=net.cell
    )


async def test_back_returns_to_previous_question_keeping_answers(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    code = await invite(chat, net)
    dee = new_account()
    await chat.send(dee, f"join {code}")
    at_start, question = await chat.send(dee, "back")
    assert at_start == en("back.at_start")
    assert question.startswith("Welcome!")
    await chat.send(dee, "2")
    assert (await chat.say(dee, "atras")).startswith("¡Bienvenida/o!")
    assert (await chat.say(dee, "1")).startswith("Choose a handle")
    await chat.send(dee, "dee_d")
    assert (await chat.say(dee, "back")).startswith("Choose a handle")
    await chat.send(dee, "dee_e")
    assert await chat.say(dee, "y") == en(
        "join.done", handle="dee_e", cell="Riverside tenants", ref=net.cell
    )


async def test_unclear_answers_reprompt_without_losing_data(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    code = await invite(chat, net)
    eve = new_account()
    await chat.send(eve, f"join {code}")
    assert "number of a language" in await chat.say(eve, "klingon")
    await chat.say(eve, "1")
    assert await chat.say(eve, "no spaces allowed") == en("join.handle_invalid")
    assert await chat.say(eve, "555 123 4567") == en("join.handle_invalid")
    assert await chat.say(eve, "5551234567") == en("join.handle_looks_like_number")
    await chat.say(eve, "eve_k")
    assert await chat.say(eve, "maybe") == en("join.consent_unclear")
    help_replies = await chat.send(eve, "help")
    assert len(help_replies) == 2
    assert "BACK" in help_replies[0]
    assert "eve_k" in help_replies[1]  # the question again, with what was entered
    assert await chat.say(eve, "yes") == en(
        "join.done", handle="eve_k", cell="Riverside tenants", ref=net.cell
    )


async def test_handle_must_be_unique_case_insensitively(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    await join(chat, net, new_account(), "River")
    code = await invite(chat, net)
    other = new_account()
    await chat.send(other, f"join {code}")
    await chat.send(other, "1")
    assert await chat.say(other, "river") == en("join.handle_taken", handle="river")


async def test_declining_consent_stores_nothing(net: Network, chat: Chat, app: LanternApp) -> None:
    code = await invite(chat, net)
    fay = new_account()
    await chat.send(fay, f"join {code}")
    await chat.send(fay, "1")
    await chat.send(fay, "fay")
    assert await chat.say(fay, "no") == en("join.declined")
    assert await chat.say(fay, "me") == en("stranger.reply")


async def test_member_cannot_join_again(net: Network, chat: Chat, app: LanternApp) -> None:
    gus = new_account()
    await join(chat, net, gus, "gus")
    assert await chat.say(gus, f"join {await invite(chat, net)}") == en("join.already_member")


async def test_help_lists_only_what_the_person_may_use(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    stranger_help = await chat.say(new_account(), "help")
    assert "JOIN" in stranger_help
    assert "LEAVE" not in stranger_help
    assert "ME " not in stranger_help
    hal = new_account()
    await join(chat, net, hal, "hal")
    member_help = await chat.say(hal, "HELP")
    assert "INVITE" not in member_help  # organizers only
    for word in ("ME", "LANG", "LEAVE", "HELP"):
        assert word in member_help
    assert "CANCEL" not in member_help  # only offered inside a dialog


async def test_lang_switches_every_later_reply(net: Network, chat: Chat, app: LanternApp) -> None:
    ivy = new_account()
    await join(chat, net, ivy, "ivy")
    assert "English" in await chat.say(ivy, "lang")
    assert await chat.say(ivy, "lang es") == es("lang.set", language="Español")
    assert await chat.say(ivy, "blah") == es("unknown.hint")
    assert await chat.say(ivy, "idioma 1") == en("lang.set", language="English")


async def test_leave_confirms_then_forgets(net: Network, chat: Chat, app: LanternApp) -> None:
    joe = new_account()
    await join(chat, net, joe, "joe")
    assert await chat.say(joe, "leave") == en("leave.confirm")
    assert await chat.say(joe, "no") == en("leave.kept")
    assert "handle: joe" in await chat.say(joe, "me")
    await chat.say(joe, "leave")
    assert await chat.say(joe, "YES") == en("leave.done")
    never = new_account()
    for text in ("me", "hello", "help"):
        assert await chat.say(joe, text) == await chat.say(never, text)
    await join(chat, net, new_account(), "joe")  # the handle is free again


async def test_dialog_survives_restart_and_unseal(
    net: Network, chat: Chat, settings: Settings, messenger: FakeMessenger
) -> None:
    kim = new_account()
    await chat.send(kim, f"join {await invite(chat, net)}")
    await chat.send(kim, "2")
    second = LanternApp(settings)  # a restart: the new process starts sealed
    await second.open_vault()
    chat2 = Chat(second.make_dispatcher(messenger), messenger)
    chat2._ts = chat._ts
    assert await chat2.say(kim, "kim") == en("sealed.received")
    for coordinator in net.coordinators[: net.threshold]:
        await chat2.send(coordinator, f"unseal {net.shares[coordinator]}")
    replies = [t for a, t in messenger.sent if a == kim]
    assert replies[-1] == es("join.privacy", handle="kim", timer="1 semana")
    second.vault.seal()
    await second.db.dispose()


async def test_every_reply_to_a_non_member_sets_the_timer(
    chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    stranger = new_account()
    for text in ("help", "hello", "cancel"):
        await chat.send(stranger, text)
    assert [t for t in messenger.timers if t[0] == stranger] == [
        (stranger, app.settings.disappearing_timer)
    ] * 3


async def test_dialog_expires(net: Network, chat: Chat, app: LanternApp) -> None:
    lee = new_account()
    await chat.send(lee, f"join {await invite(chat, net)}")
    later = utcnow() + timedelta(minutes=app.settings.dialog_minutes + 1)
    chat.dispatcher.clock = lambda: later
    assert await chat.say(lee, "1") == en("stranger.reply")


async def test_coordinator_cannot_leave_without_a_rekey(net: Network, chat: Chat) -> None:
    coordinator = net.coordinators[0]
    assert await chat.say(coordinator, "leave") == en("leave.coordinator")
    assert "coord1" in await chat.say(coordinator, "me")  # still there


async def test_me_shows_roles_skills_times_and_a_pause_in_the_persons_language(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    """``me`` promises everything the bot holds: what someone gives is part of it."""
    from bot.roles import EVENING, WEEKENDS
    from storage.repositories import Repositories

    ana = new_account()
    await join(chat, net, ana, "ana_r", "es")
    assert es("me.none") in await chat.say(ana, "yo")
    assert app.vault.keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, app.vault.keys)
        member = await repos.members.by_account(ana)
        assert member is not None
        now = utcnow()
        await repos.roles.signup(member.id, "driver", detail=None, now=now)
        await repos.roles.signup(member.id, "translator", detail="en-es", now=now)
        await repos.roles.set_skills(member.id, ["car", "lang:ar"])
        await repos.roles.set_availability(member.id, EVENING | WEEKENDS)
        await repos.roles.pause(member.id, now + timedelta(days=10))
    shown = await chat.say(ana, "yo")
    assert "conductor/a" in shown and "traductor/a (en-es)" in shown
    assert "coche" in shown and "árabe" in shown
    assert "noches, fines de semana" in shown
    assert "en pausa hasta el" in shown
    assert "{" not in shown
