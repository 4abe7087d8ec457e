"""Fault drills: ``kill -9`` of the bot in the middle of an intake dialog, and while it is
working through a sealed backlog.  (The kill during a fan-out is
``tests/test_e2e_fanout.py::test_fanout_2000_exactly_once_through_429_5xx_and_a_sigkill``.)

The bot runs as a real child process (``lantern run``), so the kill is a kill.  The rule
checked, from bot/dispatcher.py and bot/outbox.py:

- a message the bot has **journaled** is handled exactly once, whatever moment the kill
  lands on: before its transaction (handled after the restart), after it (not again);
- every reply is delivered; at most **one** message per kill may arrive twice — the one
  Signal had accepted when the process died, before the bot could record it (Signal has no
  idempotency key).  A text pushed to the bot's websocket and lost with the process
  before it was journaled is lost upstream too (signal-cli-rest-api keeps nothing for an
  absent client); the drills kill only once the message is journaled.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import LanternApp
from bot.i18n import translate
from storage.db import make_engine
from storage.models import InboundJournal, MemberSkill
from storage.repositories import Repositories
from tests.botprocess import BotProcess
from tests.casework import ANSWERS_ES, CASE_REF
from tests.live import Live
from tests.test_e2e_fanout import seed

pytestmark = pytest.mark.timeout(240)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def hand_over(live: Live) -> None:
    """Stop the in-process bot and wait for its websocket to close: the child's start
    watches the receiver count go up."""
    await live.app.stop()
    deadline = time.monotonic() + 10
    while live.state.receiver_count:
        assert time.monotonic() < deadline, "the in-process bot kept its websocket"
        await asyncio.sleep(0.02)


def child(live: Live, tmp_path: Path) -> BotProcess:
    settings = live.settings.model_copy(update={"sweep_seconds": 0.5, "log_level": "WARNING"})
    return BotProcess(settings, live.state, tmp_path / "lantern.log")


async def journaled(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(InboundJournal)) or 0)
    finally:
        await engine.dispose()


async def kill_once_journaled(live: Live, bot: BotProcess, before: int) -> float:
    """SIGKILL as soon as one more message is in the journal; how long that took."""
    started = time.monotonic()
    while await journaled(live.settings.database_url) <= before:
        if time.monotonic() - started > 20:
            raise AssertionError("the message was never journaled")
    bot.kill()
    return time.monotonic() - started


async def test_drill_kill_during_an_intake_loses_no_answer_and_doubles_none(
    booted_live: Live, tmp_path: Path
) -> None:
    live = booted_live
    olga = live.organizer
    assert olga is not None
    await live.say(olga, f"cell intake {live.cell} on Riverside tenants")
    await hand_over(live)
    bot = child(live, tmp_path)
    await bot.start()
    await bot.unseal(live.coordinators, live.shares, 2)

    rosa = live.state.create_persona("Rosa")
    await live.say(rosa, "lucha")
    await live.talk(rosa, "2", replies=2)
    assert await live.say(rosa, ANSWERS_ES[0]) == es("intake.ask_target")

    before = await journaled(live.settings.database_url)
    cursor = live.state.last_seq
    await live.state.inject_text(rosa.uuid, ANSWERS_ES[1])  # the target
    took = await kill_once_journaled(live, bot, before)
    await bot.start()
    await bot.unseal(live.coordinators, live.shares, 2)
    await live.state.wait_for_deliveries(rosa.uuid, 1, since=cursor, timeout=20)
    await asyncio.sleep(0.5)
    replies = [d.text for d in live.state.deliveries(persona=rosa.uuid, since=cursor)]
    assert replies in ([es("intake.ask_site")], [es("intake.ask_site")] * 2), replies

    # she carries on from the next question: the target was taken once, in its place
    for answer in ANSWERS_ES[2:8]:
        await live.say(rosa, answer)
    summary, _confirm = await live.talk(rosa, "Rosa", replies=2)
    for answer in ANSWERS_ES[:5]:
        assert summary.count(answer) == 1, (answer, summary)
    found = CASE_REF.search(await live.say(rosa, "sí"))
    assert found is not None
    await bot.stop()
    print(f"\nkilled {took * 1000:.0f} ms after the push; replies to the answer: {len(replies)}")


async def test_drill_kill_while_draining_a_sealed_backlog_handles_each_message_once(
    booted_live: Live, tmp_path: Path
) -> None:
    live = booted_live
    people = await seed(live, 30)
    await hand_over(live)
    bot = child(live, tmp_path)
    await bot.start()  # sealed: everything is journaled, sealed to the backlog key
    received = translate("en", "sealed.received")
    for person in people:
        for text in ("skills car", "skills spanish evenings"):
            cursor = live.state.last_seq
            await live.state.inject_text(person.uuid, text)
            [ack] = await live.state.wait_for_deliveries(person.uuid, 1, since=cursor, timeout=10)
            assert ack.text == received
    backlog = len(people) * 2

    cursor = live.state.last_seq
    mine = {p.uuid for p in people}

    def handled() -> Counter[str]:
        return Counter(d.persona for d in live.state.deliveries(since=cursor) if d.persona in mine)

    c1, c2, _c3 = live.coordinators
    await live.state.inject_text(c1.uuid, f"unseal {live.shares[c1.uuid]}")
    await live.state.inject_text(c2.uuid, f"unseal {live.shares[c2.uuid]}")
    deadline = time.monotonic() + 30
    while sum(handled().values()) < backlog // 3:
        assert time.monotonic() < deadline, "the backlog never started draining"
        await asyncio.sleep(0.01)
    bot.kill()
    at_kill = sum(handled().values())
    await bot.start()
    await bot.unseal(live.coordinators, live.shares, 2)
    deadline = time.monotonic() + 60
    while len(handled()) < len(people) or min(handled().values()) < 2:
        assert time.monotonic() < deadline, f"only {sum(handled().values())} of {backlog} answered"
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    counts = handled()
    twice = [n for n in counts.values() if n > 2]
    assert len(twice) <= 1 and max(counts.values()) <= 3, counts

    # the second message of each person won: handled in order, each once
    probe = LanternApp(live.settings)
    await probe.vault.start()
    for person in live.coordinators[:2]:
        await probe.vault.submit_share(live.shares[person.uuid])
    keys = probe.vault.keys
    assert keys is not None
    async with probe.db.transaction() as session:
        repos = Repositories(session, keys)
        for person in people:
            member = await repos.members.by_account(person.uuid)
            assert member is not None
            skills = set(
                (
                    await session.scalars(
                        select(MemberSkill.skill).where(MemberSkill.member_id == member.id)
                    )
                ).all()
            )
            assert skills == {"lang:es"}, skills
        assert await repos.journal.pending() == []
    probe.vault.seal()
    await probe.db.dispose()
    await bot.stop()
    print(f"\nsealed backlog of {backlog}: killed after {at_kill} replies; duplicates {len(twice)}")
