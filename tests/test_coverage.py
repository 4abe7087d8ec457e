"""COVERAGE: an organizer's counts of role coverage, load and covenant for their own
cells — never an identity or a handle, and nothing of anyone else's cell."""

from __future__ import annotations

import re

from bot.app import LanternApp
from storage.models import utcnow
from tests.callouts import bulk_members
from tests.conftest import Chat, FakeMessenger, new_account
from tests.coveragekit import en, es, fight_to_the_end, history, sign_up
from tests.helpers import join
from tests.network import REF, Network, code_in


async def test_coverage_shows_counts_only_for_the_organizers_cell(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await bulk_members(app, net.cell, 6)
    await sign_up(app, people[:3], "driver")
    await sign_up(app, people[3:4], "driver", paused=True)
    await sign_up(app, people[4:6], "host")
    reply = await chat.say(net.organizer, "coverage")
    lines = reply.split("\n")
    assert lines[0] == en("coverage.header", cell="Riverside tenants", ref=net.cell, people=7)
    assert en("coverage.role", role="driver", holders=4, paused=1) in lines
    assert en("coverage.role", role="host", holders=2, paused=0) in lines
    nobody = [line for line in lines if line.startswith(en("coverage.nobody", roles=""))]
    assert len(nobody) == 1 and "driver" not in nobody[0] and "medic" in nobody[0]
    assert en("coverage.load_low", days=90, total=0, needed=10) in lines
    assert lines[-1] == en("coverage.covenant", invited=0, said_yes=0, gave=0)
    for i in range(6):
        assert f"bulk{i}" not in reply
    assert "orga" not in reply and all(p not in reply for p in people)
    assert len(reply) <= 600


async def test_coverage_shows_the_load_figure_and_covenant_counts(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await bulk_members(app, net.cell, 9)
    await history(app, net, {people[0]: 6, people[1]: 6, people[2]: 1}, before=utcnow())
    case = await fight_to_the_end(chat, net)
    await chat.send(case.subject, "count me in")
    await fight_to_the_end(chat, net, outcome="settled")
    reply = await chat.say(net.organizer, "cobertura")
    lines = reply.split("\n")
    assert en("coverage.load", days=90, busiest=2, people=10, share=92, total=13) in lines
    assert en("coverage.load_heavy") in lines
    assert lines[-1] == en("coverage.covenant", invited=2, said_yes=1, gave=0)
    assert "Rosa" not in reply and case.ref not in reply and case.subject not in reply


async def test_coverage_in_spanish_for_a_spanish_organizer(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    olga = new_account()
    await join(chat, net, olga, "olga_r", lang="es", role="organizer")
    reply = await chat.say(olga, "cobertura")
    assert reply.startswith(es("coverage.header", cell="Riverside tenants", ref=net.cell, people=2))
    assert es("coverage.load_low", days=90, total=0, needed=10) in reply


async def test_coverage_of_another_cell_reads_as_a_random_ref(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    coordinator = net.coordinators[0]
    found = REF.search(await chat.say(coordinator, "cell new Harbour workers"))
    assert found is not None
    other = found.group(1)
    code = code_in(await chat.send(coordinator, f"invite {other} organizer"))
    bea = new_account()
    await chat.send(bea, f"join {code}")
    for answer in ("en", "bea_h", "yes"):
        await chat.send(bea, answer)
    assert (await chat.say(bea, f"coverage {other}")).startswith(
        en("coverage.header", cell="Harbour workers", ref=other, people=1)
    ), "the control: its own organizer sees it"

    def shape(reply: str, typed: str) -> str:
        return reply.replace(typed, "<ref>")

    random_ref = "QZ7XW" if other != "QZ7XW" else "QZ7XV"
    for typed in (other, other.lower(), random_ref, "nonsense-ref"):
        reply = await chat.say(net.organizer, f"coverage {typed}")
        assert shape(reply, re.sub(r"[^0-9A-Z]", "", typed.upper())) == shape(
            en("cell.not_found", ref="X"), "X"
        ), typed
        assert "Harbour" not in reply


async def test_coverage_is_for_organizers_only(net: Network, chat: Chat, app: LanternApp) -> None:
    member, stranger = new_account(), new_account()
    await join(chat, net, member, "ana_r")
    assert await chat.say(member, "coverage") == en("unknown.hint")
    assert await chat.say(member, f"coverage {net.cell}") == en("unknown.hint")
    assert await chat.say(stranger, "coverage") == en("stranger.reply")
    coordinator = net.coordinators[0]
    assert await chat.say(coordinator, "coverage") == en("coverage.none")
    assert await chat.say(coordinator, f"coverage {net.cell}") == en(
        "cell.not_found", ref=net.cell
    ), "coordinators see counts of cells they organize, not every cell"


async def test_coverage_help_lists_it_for_organizers(net: Network, chat: Chat) -> None:
    assert en("help.coverage") in "\n".join(await chat.send(net.organizer, "help"))
