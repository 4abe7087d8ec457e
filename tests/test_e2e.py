"""End to end: unmodified signalbot + the local Signal sandbox + Lantern, per backend.

Every test starts from a network bootstrapped the way a real one is: ``lantern init``'s
function makes the enrollment codes, three coordinators enroll by Signal message and get
their shares from the bot, one of them creates a cell and invites its organizer, and the
organizer invites members.  Nothing is put into the database behind the bot's back.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.i18n import translate
from tests.live import CELL, WEEK, Live, bootstrap, init


@pytest.fixture
def fresh(fresh_live: Live) -> Live:
    return fresh_live


@pytest.fixture
def live(booted_live: Live) -> Live:
    return booted_live


def welcome(language: str, handle: str, live: Live) -> str:
    return translate(language, "join.done", handle=handle, cell=CELL, ref=live.cell)


async def test_e2e_people_join_switch_language_get_help_and_leave(live: Live) -> None:
    ana = live.state.create_persona("Ana")
    ben = live.state.create_persona("Ben")
    chris = live.state.create_persona("Chris", hidden_number=True)
    assert chris.number is None

    for person, lang, handle in ((ana, "2", "ana_r"), (ben, "1", "ben_w"), (chris, "1", "chris")):
        language = "es" if lang == "2" else "en"
        assert await live.join(person, handle, lang) == welcome(language, handle, live)

    assert "Puedes enviar" in await live.say(ana, "ayuda")
    assert await live.say(ben, "lang es") == translate("es", "lang.set", language="Español")
    assert "alias: ben_w" in await live.say(ben, "me")
    assert await live.say(ben, "LANG 1") == translate("en", "lang.set", language="English")
    assert f"{live.cell} {CELL}" in await live.say(ben, "cells")
    assert "LEAVE" in await live.say(chris, "help")

    await live.say(chris, "leave")
    assert await live.say(chris, "yes") == translate("en", "leave.done")
    assert await live.say(chris, "me") == translate("en", "stranger.reply")

    await asyncio.sleep(0.3)  # nothing more may arrive: exactly the replies expected
    for person in (ana, ben, chris, *live.coordinators):
        assert len(live.state.deliveries(persona=person.uuid)) == live.expected[person.uuid]


async def test_e2e_no_reply_reveals_one_member_to_another(live: Live) -> None:
    """Threat 9 in miniature: nothing Ben receives carries Ana's number or account id."""
    ana = live.state.create_persona("Ana")
    ben = live.state.create_persona("Ben")
    await live.join(ana, "ana_r")
    await live.join(ben, "ben_w")
    await live.talk(ben, "join ana_r")
    await live.talk(ben, f"lang {ana.uuid}")
    await live.talk(ben, "help")
    await live.talk(ben, "cells")
    await live.talk(ben, f"invite {live.cell} member")
    assert ana.number is not None
    for item in live.state.deliveries(persona=ben.uuid):
        text = item.text or ""
        assert ana.uuid not in text and ana.number not in text
        assert ana.number.lstrip("+") not in text


async def test_e2e_stranger_replies_are_identical_for_unknown_and_former(live: Live) -> None:
    never = live.state.create_persona("Never")
    former = live.state.create_persona("Former")
    await live.join(former, "former")
    await live.talk(former, "leave")
    await live.talk(former, "yes")
    for text in ("hello", "me", "help", "join AAAAA-BBBBB-CCCCC", "enroll AAAAA-BBBBB-CCCCC"):
        assert await live.say(never, text) == await live.say(former, text)


async def test_e2e_bot_keeps_listening_after_a_clean_websocket_close(live: Live) -> None:
    """signal-cli-rest-api restarting closes the websocket cleanly; the bot must come back."""
    person = live.state.create_persona("Pat")
    assert await live.say(person, "hello") == translate("en", "stranger.reply")
    assert await live.state.drop_receivers(clean=True) == 1
    await live.state.wait_for_receiver(timeout=10)
    assert await live.say(person, "hello") == translate("en", "stranger.reply")


async def test_e2e_restart_is_sealed_until_two_coordinators_unseal(live: Live) -> None:
    """A restart holds no key: everything is answered "received", kept sealed, and handled
    in arrival order once two coordinators send their share words by Signal."""
    ana = live.state.create_persona("Ana")
    ben = live.state.create_persona("Ben", hidden_number=True)
    sam = live.state.create_persona("Sam")
    await live.join(ana, "ana_r", lang="2")
    await live.join(ben, "ben_w")
    await live.say(sam, "hello")  # an outsider who wrote before: the timer is already set
    c1, c2, c3 = live.coordinators

    await live.restart()
    assert live.app.vault.sealed
    received = translate("en", "sealed.received")
    backlog = [(ana, "yo"), (ben, "help"), (sam, "hello"), (ana, "idioma en")]
    for person, text in backlog:
        assert await live.say(person, text) == received

    wrong = live.shares[c3.uuid].split()
    wrong[5] = "academic" if wrong[5] != "academic" else "acid"
    assert await live.say(c3, "unseal " + " ".join(wrong)) == translate("en", "unseal.rejected")
    accepted = translate("en", "unseal.accepted", count=1, needed=2)
    assert await live.say(c1, f"unseal {live.shares[c1.uuid]}") == accepted
    assert live.app.vault.sealed

    cursor = live.state.last_seq
    await live.state.inject_text(c2.uuid, f"UNSEAL {live.shares[c2.uuid]}")
    got = await live.state.wait_for_deliveries(None, 8, since=cursor, timeout=10)
    assert all(item.expires_in_seconds == WEEK for item in got)
    order = [(item.persona, item.text or "") for item in got]
    assert order[0] == (c2.uuid, translate("en", "unseal.done"))
    # the backlog, in the order it arrived, each in the person's own language
    assert [who for who, _ in order[1:5]] == [ana.uuid, ben.uuid, sam.uuid, ana.uuid]
    assert "alias: ana_r" in order[1][1]
    assert order[2][1].startswith(translate("en", "help.header"))
    assert order[3][1] == translate("en", "stranger.reply")
    assert order[4][1] == translate("en", "lang.set", language="English")
    # then every coordinator is told
    announce = translate("en", "unseal.announce", count=len(backlog))
    assert sorted(order[5:]) == sorted((c.uuid, announce) for c in live.coordinators)
    assert not live.app.vault.sealed

    await asyncio.sleep(0.3)
    assert live.state.deliveries(since=got[-1].seq) == []
    assert "handle: ana_r" in await live.say(ana, "me")  # answered at once again
    assert await live.say(c1, "unseal x") == translate("en", "unseal.already")


async def test_e2e_panic_seal_by_one_coordinator(live: Live) -> None:
    ana = live.state.create_persona("Ana")
    await live.join(ana, "ana_r")
    c1, c2, c3 = live.coordinators
    cursor = live.state.last_seq
    await live.state.inject_text(c1.uuid, "seal")
    got = await live.state.wait_for_deliveries(None, 3, since=cursor, timeout=8)
    assert sorted((d.persona, d.text) for d in got) == sorted(
        [
            (c1.uuid, translate("en", "seal.done", needed=2)),
            (c2.uuid, translate("en", "seal.announce", handle="coord1", needed=2)),
            (c3.uuid, translate("en", "seal.announce", handle="coord1", needed=2)),
        ]
    )
    for _ in range(100):  # the keys leave memory right after those replies went out
        if live.app.vault.sealed:
            break
        await asyncio.sleep(0.02)
    assert live.app.vault.sealed
    assert await live.say(ana, "me") == translate("en", "sealed.received")
    cursor = live.state.last_seq
    await live.say(c3, f"unseal {live.shares[c3.uuid]}")
    replies = await live.talk(c2, f"unseal {live.shares[c2.uuid]}", replies=2)
    assert replies == [
        translate("en", "unseal.done"),
        translate("en", "unseal.announce", count=1),
    ]
    [answer] = await live.state.wait_for_deliveries(ana.uuid, 1, since=cursor, timeout=8)
    assert "handle: ana_r" in (answer.text or "")


async def test_e2e_restart_during_enrollment_means_enrolling_again(fresh: Live) -> None:
    """Nothing can read what was enrolled under the lost key: it is discarded, and the
    same codes work again."""
    codes = await init(fresh, count=3, threshold=2)
    first = fresh.state.create_persona("Coord1")
    await fresh.say(first, f"enroll {codes[0]}")
    await fresh.say(first, "1")
    await fresh.say(first, "coord1")
    assert "1 of 3" in await fresh.say(first, "yes")

    await fresh.restart()
    assert fresh.app.vault.enrolling and not fresh.app.vault.sealed
    assert await fresh.say(first, "me") == translate("en", "stranger.reply")
    fresh.coordinators = [first, *(fresh.state.create_persona(f"Coord{i}") for i in (2, 3))]
    await bootstrap(fresh, codes=codes)  # everyone enrolls again, with the same codes
    await fresh.restart()
    assert fresh.app.vault.sealed
    c1, c2, _c3 = fresh.coordinators
    await fresh.say(c1, f"unseal {fresh.shares[c1.uuid]}")
    assert await fresh.talk(c2, f"unseal {fresh.shares[c2.uuid]}", replies=2) == [
        translate("en", "unseal.done"),
        translate("en", "unseal.announce", count=0),
    ]
    assert fresh.organizer is not None
    assert f"{fresh.cell} {CELL}" in await fresh.say(fresh.organizer, "cells")
