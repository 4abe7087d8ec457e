"""The live rig for end-to-end tests: unmodified signalbot + the local Signal sandbox +
Lantern, with a network bootstrapped the way a real one is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from bot.setup import init_network
from sandbox.server import SandboxServer
from sandbox.state import Persona, SandboxState
from tests.network import REF, code_in, share_in

# the outbox sends as fast as the tests go; tests/test_outbox*.py check the real limits
FAST_SENDING: dict[str, Any] = {
    "send_rate_per_second": 100.0,
    "send_burst": 100_000,
    "retry_base_seconds": 0.05,
}

WEEK = 7 * 24 * 3600
CELL = "Riverside tenants"


@dataclass
class Live:
    state: SandboxState
    settings: Settings
    app: LanternApp
    coordinators: list[Persona] = field(default_factory=list)
    shares: dict[str, str] = field(default_factory=dict)  # persona uuid -> share words
    cell: str = ""
    organizer: Persona | None = None
    expected: dict[str, int] = field(default_factory=dict)

    async def talk(self, persona: Persona, text: str, replies: int = 1) -> list[str]:
        cursor = self.state.last_seq
        await self.state.inject_text(persona.uuid, text)
        got = await self.state.wait_for_deliveries(persona.uuid, replies, since=cursor, timeout=8)
        self.expected[persona.uuid] = self.expected.get(persona.uuid, 0) + replies
        for item in got:
            assert item.expires_in_seconds == WEEK, "every conversation has a timer"
        return [item.text or "" for item in got]

    async def say(self, persona: Persona, text: str) -> str:
        [reply] = await self.talk(persona, text)
        return reply

    async def start(self) -> None:
        self.app = LanternApp(self.settings, receiver_check_seconds=0.2)
        await asyncio.wait_for(self.app.start(), timeout=20)
        await self.state.wait_for_receiver()

    async def restart(self) -> None:
        """Stop the process and start a new one on the same database: it starts sealed."""
        await self.app.stop()
        for _ in range(250):
            if self.state.receiver_count == 0:
                break
            await asyncio.sleep(0.02)
        assert self.state.receiver_count == 0
        await self.start()

    async def invite(self, role: str = "member") -> str:
        assert self.organizer is not None
        return code_in(await self.talk(self.organizer, f"invite {self.cell} {role}", replies=2))

    async def join(self, person: Persona, handle: str, lang: str = "1") -> str:
        """Join with a fresh invite; returns the welcome."""
        code = await self.invite()
        # the timer is set before the first reply, so even the first question disappears
        assert "1. English" in await self.say(person, f"join {code}")
        await self.say(person, lang)
        await self.say(person, handle)
        return await self.say(person, "sí" if lang == "2" else "yes")


async def init(live: Live, *, count: int, threshold: int) -> list[str]:
    """What `lantern init` does (its own function, on its own connection), then start."""
    try:
        codes = await init_network(
            live.app.db, name="Test network", coordinators=count, threshold=threshold
        )
    finally:
        await live.app.db.dispose()
    await live.start()
    assert live.app.vault.enrolling
    return codes


async def bootstrap(
    live: Live, *, count: int = 3, threshold: int = 2, codes: list[str] | None = None
) -> None:
    codes = codes or await init(live, count=count, threshold=threshold)
    live.coordinators = live.coordinators or [
        live.state.create_persona(f"Coord{i}") for i in range(1, count + 1)
    ]
    for i, (person, code) in enumerate(zip(live.coordinators, codes, strict=True), start=1):
        await live.say(person, f"enroll {code}")
        await live.say(person, "1")
        await live.say(person, f"coord{i}")
        if i < count:
            assert await live.say(person, "yes") == translate(
                "en", "enroll.done", handle=f"coord{i}", count=i, total=count
            )
    # the last "yes": the bot deals every coordinator a share under a short timer
    last = live.coordinators[-1]
    cursor = live.state.last_seq
    await live.state.inject_text(last.uuid, "yes")
    complete = translate("en", "enroll.complete", threshold=threshold, count=count)
    for person in live.coordinators:
        got = await live.state.wait_for_deliveries(
            person.uuid, 3 if person is last else 2, since=cursor, timeout=8
        )
        share, done = got[-2:]
        assert share.expires_in_seconds == live.settings.share_timer < WEEK
        assert (done.text, done.expires_in_seconds) == (complete, WEEK)
        live.shares[person.uuid] = share_in([share.text or ""])
        live.expected[person.uuid] = live.expected.get(person.uuid, 0) + len(got)
    assert len(set(live.shares.values())) == count
    assert not live.app.vault.enrolling and not live.app.vault.sealed

    first = live.coordinators[0]
    found = REF.search(await live.say(first, f"cell new {CELL}"))
    assert found is not None
    live.cell = found.group(1)
    code = code_in(await live.talk(first, f"invite {live.cell} organizer", replies=2))
    live.organizer = live.state.create_persona("Olga")
    await live.say(live.organizer, f"join {code}")
    await live.say(live.organizer, "1")
    await live.say(live.organizer, "olga")
    await live.say(live.organizer, "yes")


@pytest.fixture
async def fresh_live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """The sandbox and a migrated database; ``lantern init`` has not run yet."""
    server = SandboxServer()
    await server.start()
    settings = Settings(
        bot_number=server.state.bot_number,
        signal_service=server.url,
        data_dir=tmp_path / "data",
        database_url=database_url,
        **FAST_SENDING,
    )
    state = Live(server.state, settings, LanternApp(settings))
    try:
        yield state
    finally:
        await state.app.stop()
        await server.stop()


@pytest.fixture
async def booted_live(fresh_live: Live) -> Live:
    await bootstrap(fresh_live)
    return fresh_live
