"""End to end: unmodified signalbot + the local Signal sandbox + Lantern, per backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from sandbox.server import SandboxServer
from sandbox.state import Persona, SandboxState
from security import Keyring
from tests.helpers import invite

WEEK = 7 * 24 * 3600


@dataclass
class Live:
    state: SandboxState
    app: LanternApp
    expected: dict[str, int] = field(default_factory=dict)

    async def talk(self, persona: Persona, text: str, replies: int = 1) -> list[str]:
        cursor = self.state.last_seq
        await self.state.inject_text(persona.uuid, text)
        got = await self.state.wait_for_deliveries(persona.uuid, replies, since=cursor, timeout=8)
        self.expected[persona.uuid] = self.expected.get(persona.uuid, 0) + replies
        for item in got:
            assert item.expires_in_seconds == WEEK, "every member conversation has a timer"
        return [item.text or "" for item in got]

    async def say(self, persona: Persona, text: str) -> str:
        [reply] = await self.talk(persona, text)
        return reply


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    server = SandboxServer()
    await server.start()
    settings = Settings(
        bot_number=server.state.bot_number,
        signal_service=server.url,
        data_dir=tmp_path / "data",
        database_url=database_url,
    )
    app = LanternApp(settings, keys=Keyring.generate(), receiver_check_seconds=0.2)
    await asyncio.wait_for(app.start(), timeout=20)
    await server.state.wait_for_receiver()
    try:
        yield Live(server.state, app)
    finally:
        await app.stop()
        await server.stop()


async def test_e2e_people_join_switch_language_get_help_and_leave(live: Live) -> None:
    ana = live.state.create_persona("Ana")
    ben = live.state.create_persona("Ben")
    chris = live.state.create_persona("Chris", hidden_number=True)
    assert chris.number is None

    for person, lang, handle in ((ana, "2", "ana_r"), (ben, "1", "ben_w"), (chris, "1", "chris")):
        code = await invite(live.app)
        # the timer is set before the first reply, so even the first question disappears
        assert "1. English" in await live.say(person, f"join {code}")
        await live.say(person, lang)
        await live.say(person, handle)
        language = "es" if lang == "2" else "en"
        assert await live.say(person, "yes") == translate(language, "join.done", handle=handle)

    assert "Puedes enviar" in await live.say(ana, "ayuda")
    assert await live.say(ben, "lang es") == translate("es", "lang.set", language="Español")
    assert "alias: ben_w" in await live.say(ben, "me")
    assert await live.say(ben, "LANG 1") == translate("en", "lang.set", language="English")
    assert "LEAVE" in await live.say(chris, "help")

    await live.say(chris, "leave")
    assert await live.say(chris, "yes") == translate("en", "leave.done")
    assert await live.say(chris, "me") == translate("en", "stranger.reply")

    await asyncio.sleep(0.3)  # nothing more may arrive: exactly the replies expected
    for person in (ana, ben, chris):
        assert len(live.state.deliveries(persona=person.uuid)) == live.expected[person.uuid]


async def test_e2e_no_reply_reveals_one_member_to_another(live: Live) -> None:
    """Threat 9 in miniature: nothing Ben receives carries Ana's number or account id."""
    ana = live.state.create_persona("Ana")
    ben = live.state.create_persona("Ben")
    for person, handle in ((ana, "ana_r"), (ben, "ben_w")):
        await live.talk(person, f"join {await invite(live.app)}")
        await live.talk(person, "1")
        await live.talk(person, handle)
        await live.talk(person, "yes")
    await live.talk(ben, "join ana_r")
    await live.talk(ben, f"lang {ana.uuid}")
    await live.talk(ben, "help")
    assert ana.number is not None
    for item in live.state.deliveries(persona=ben.uuid):
        text = item.text or ""
        assert ana.uuid not in text and ana.number not in text
        assert ana.number.lstrip("+") not in text


async def test_e2e_stranger_replies_are_identical_for_unknown_and_former(live: Live) -> None:
    never = live.state.create_persona("Never")
    former = live.state.create_persona("Former")
    await live.talk(former, f"join {await invite(live.app)}")
    await live.talk(former, "1")
    await live.talk(former, "former")
    await live.talk(former, "yes")
    await live.talk(former, "leave")
    await live.talk(former, "yes")
    for text in ("hello", "me", "help", "join AAAAA-BBBBB-CCCCC"):
        assert await live.say(never, text) == await live.say(former, text)


async def test_e2e_bot_keeps_listening_after_a_clean_websocket_close(live: Live) -> None:
    """signal-cli-rest-api restarting closes the websocket cleanly; the bot must come back."""
    person = live.state.create_persona("Pat")
    assert await live.say(person, "hello") == translate("en", "stranger.reply")
    assert await live.state.drop_receivers(clean=True) == 1
    await live.state.wait_for_receiver(timeout=10)
    assert await live.say(person, "hello") == translate("en", "stranger.reply")
