"""Coordinators add, retire and restore roles; members see and take them in their own
language; the new role's names are never in the database in plaintext."""

from __future__ import annotations

from bot.app import LanternApp
from bot.i18n import translate
from bot.roles import load_catalogue
from tests.callouts import crew
from tests.canary import Canaries, at_rest
from tests.conftest import Chat
from tests.network import Network


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


async def add_cook(chat: Chat, coordinator: str) -> list[str]:
    replies = [await chat.say(coordinator, "addrole")]
    for text in (
        "field cook",
        "Feeds people at long actions.",
        "cocinera de campaña",
        "Da de comer en las acciones largas.",
    ):
        replies.append(await chat.say(coordinator, text))
    return replies


async def test_coordinator_adds_a_role_in_two_languages_and_members_take_it(
    net: Network, chat: Chat
) -> None:
    coordinator = net.coordinators[0]
    asked = await add_cook(chat, coordinator)
    assert asked[0] == en("roleadmin.ask_name", language="English")
    assert asked[2] == en("roleadmin.ask_name", language="Español")
    assert "cocinera de campaña — Da de comer" in asked[-1]
    assert await chat.say(coordinator, "yes") == en("roleadmin.added", role="field cook")
    [rosa] = await crew(chat, net, 1, lang="es")
    listing = "\n".join(await chat.send(rosa, "roles"))
    assert "• cocinera de campaña — Da de comer en las acciones largas." in listing
    signed = await chat.say(rosa, "apuntar cocineras de campaña")
    assert signed == translate("es", "roles.signed", role="cocinera de campaña")
    [ben] = await crew(chat, net, 1, prefix="ben")
    assert await chat.say(ben, "signup field cook") == en("roles.signed", role="field cook")


async def test_addrole_refuses_a_name_already_taken_and_keeps_asking(
    net: Network, chat: Chat
) -> None:
    coordinator = net.coordinators[0]
    await chat.say(coordinator, "addrole")
    replies = await chat.send(coordinator, "Drivers")
    assert replies[0] == en("roleadmin.clash", name="Drivers", role="driver")
    assert replies[1] == en("roleadmin.ask_name", language="English")
    replies = await chat.send(coordinator, "x" * 41)
    assert replies[0] == en("roleadmin.length", max=40)
    assert await chat.say(coordinator, "cook") == en(
        "roleadmin.ask_description", language="English"
    )
    assert await chat.say(coordinator, "cancel") == en("cancel.done")
    [ana] = await crew(chat, net, 1)
    assert "cook" not in "\n".join(await chat.send(ana, "roles"))


async def test_addrole_back_and_no_change_nothing(net: Network, chat: Chat) -> None:
    coordinator = net.coordinators[0]
    await chat.say(coordinator, "addrole")
    await chat.say(coordinator, "cook")
    assert await chat.say(coordinator, "back") == en("roleadmin.ask_name", language="English")
    assert await chat.say(coordinator, "field cook") == en(
        "roleadmin.ask_description", language="English"
    )
    for text in ("Feeds people.", "cocinera", "Da de comer."):
        await chat.say(coordinator, text)
    assert await chat.say(coordinator, "back") == en(
        "roleadmin.ask_description", language="Español"
    )
    confirm = await chat.say(coordinator, "Cocina en las acciones largas.")
    assert "English: field cook — Feeds people." in confirm
    assert "Español: cocinera — Cocina en las acciones largas." in confirm
    assert await chat.say(coordinator, "perhaps") == confirm  # asked again, nothing lost
    assert await chat.say(coordinator, "no") == en("roleadmin.dropped")
    [ana] = await crew(chat, net, 1)
    assert await chat.say(ana, "signup cook") == en(
        "roles.unknown",
        typed="cook",
        roles=", ".join(r.name("en") for r in load_catalogue().active()),
    )


async def test_the_same_name_added_meanwhile_by_another_coordinator_is_refused(
    net: Network, chat: Chat
) -> None:
    first, second = net.coordinators[:2]
    await add_cook(chat, first)
    await add_cook(chat, second)
    assert await chat.say(first, "yes") == en("roleadmin.added", role="field cook")
    assert await chat.say(second, "yes") == en(
        "roleadmin.clash_late", name="field cook", role="field cook"
    )
    [ana] = await crew(chat, net, 1)
    listing = "\n".join(await chat.send(ana, "roles"))
    assert listing.count("field cook") == 1


async def test_retire_and_restore_a_shipped_role(net: Network, chat: Chat) -> None:
    coordinator = net.coordinators[0]
    [ana] = await crew(chat, net, 1)
    await chat.say(ana, "signup medic")
    assert await chat.say(coordinator, "retirerole medics") == en("roleadmin.retired", role="medic")
    assert "medic" not in "\n".join(await chat.send(ana, "roles"))
    active = ", ".join(r.name("en") for r in load_catalogue().active() if r.key != "medic")
    assert await chat.say(ana, "signup medic") == en("roles.retired", role="medic", roles=active)
    assert "medic" in await chat.say(ana, "me")  # held, on record
    assert await chat.say(coordinator, "restorerole medic") == en(
        "roleadmin.restored", role="medic"
    )
    assert "✅ medic — " in "\n".join(await chat.send(ana, "roles"))


async def test_only_coordinators_change_the_catalogue(net: Network, chat: Chat) -> None:
    [ana] = await crew(chat, net, 1)
    for text in ("addrole", "retirerole driver", "restorerole driver"):
        assert await chat.say(net.organizer, text) == en("unknown.hint")
        assert await chat.say(ana, text) == en("unknown.hint")
    assert "driver" in "\n".join(await chat.send(ana, "roles"))


async def test_an_added_roles_names_are_not_in_the_database_in_plaintext(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    await add_cook(chat, net.coordinators[0])
    await chat.say(net.coordinators[0], "yes")
    canaries = Canaries()
    canaries.add_text("role", "field cook")
    canaries.add_text("rol", "cocinera de campaña")
    canaries.add_text("description", "Feeds people at long actions")
    cold = await at_rest(app.db)
    assert canaries.hits(cold.parts["sql"]) == []
    assert cold.hits(canaries) == []
