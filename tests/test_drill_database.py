"""Fault drills: the database goes away under load and comes back.

- **PostgreSQL stopped and started** (``pg_ctl stop -m fast``: every session cut, as in a
  restart or a failover) while twenty members keep writing.  A private server is used
  (:mod:`tests.pgcluster`), never the shared one.
- **SQLite locked** by another process for longer than the bot's busy timeout (a backup
  tool, a curious operator's ``sqlite3`` shell).

What must hold (bot/dispatcher.py): every message the bot received is answered exactly
once, in order, with its real answer; someone whose message had to wait is told once that
it waits and needs no resending; nobody is asked to send anything again; the journal ends
empty; the bot carries on without a restart.  Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from sandbox.server import SandboxServer
from sandbox.state import Persona
from storage.db import execute_autocommit
from storage.journal import JournalRepository
from storage.migrate import upgrade
from storage.repositories import Repositories
from tests.live import FAST_SENDING, Live, bootstrap
from tests.pgcluster import ClusterUnavailable, PrivateCluster
from tests.test_e2e_fanout import seed, wait_until

pytestmark = pytest.mark.timeout(240)

WRITERS = 20
ROUNDS = 6  # messages per writer, one every GAP seconds
GAP = 0.8
APOLOGIES = {
    translate(lang, message)
    for lang in ("en", "es")
    for message in ("error.internal", "error.unavailable")
}
DELAYED = {translate(lang, "error.delayed") for lang in ("en", "es")}


@pytest.fixture
def cluster() -> AsyncIterator[PrivateCluster]:
    try:
        private = PrivateCluster()
        private.create()
    except (ClusterUnavailable, RuntimeError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no private PostgreSQL for the restart drill: {exc}")
        pytest.skip(f"no private PostgreSQL for the restart drill: {exc}")
    try:
        yield private  # type: ignore[misc]
    finally:
        private.destroy()


async def live_on(url: str, tmp_path: Path) -> tuple[Live, SandboxServer]:
    await asyncio.to_thread(upgrade, url)
    server = SandboxServer()
    await server.start()
    settings = Settings(
        bot_number=server.state.bot_number,
        signal_service=server.url,
        data_dir=tmp_path / "data",
        database_url=url,
        **FAST_SENDING,
    )
    live = Live(server.state, settings, LanternApp(settings))
    await bootstrap(live)
    return live, server


async def under_load(
    live: Live, people: list[Persona], fault: Callable[[], object]
) -> tuple[int, int, float]:
    """Each person writes ``me`` every GAP seconds, ROUNDS times; ``fault`` runs after the
    second round.  Returns (messages, delayed notices, seconds from the last message sent
    to the last answer)."""
    cursor = live.state.last_seq

    async def writer(person: Persona, offset: float) -> None:
        await asyncio.sleep(offset)
        for _ in range(ROUNDS):
            await live.state.inject_text(person.uuid, "me")
            await asyncio.sleep(GAP)

    async def faulting() -> None:
        await asyncio.sleep(GAP * 2)
        result = fault()
        if asyncio.iscoroutine(result):
            await result

    writers = [writer(p, i * GAP / len(people)) for i, p in enumerate(people)]
    await asyncio.gather(*writers, faulting())
    sent_all = time.monotonic()

    def answers() -> Counter[str]:
        return Counter(
            d.persona
            for d in live.state.deliveries(since=cursor)
            if d.text and d.text not in DELAYED and d.text not in APOLOGIES
        )

    await wait_until(
        lambda: len(answers()) == len(people) and min(answers().values()) >= ROUNDS, 90
    )
    caught_up = time.monotonic() - sent_all
    await asyncio.sleep(1.0)  # a second copy would show up now
    texts = [d for d in live.state.deliveries(since=cursor) if d.text]
    assert not [d.text for d in texts if d.text in APOLOGIES], "someone was asked to resend"
    counts = answers()
    assert set(counts.values()) == {ROUNDS}, counts  # each message answered exactly once
    for index, person in enumerate(people):
        mine = [d.text for d in texts if d.persona == person.uuid and d.text not in DELAYED]
        assert all(f"member{index}" in (text or "") for text in mine), mine[:2]
    delayed = Counter(d.persona for d in texts if d.text in DELAYED)
    assert all(n <= ROUNDS for n in delayed.values()), delayed
    async with live.app.db.transaction() as session:
        assert await Repositories(session, live.app.vault.keys).journal.pending() == []
    assert not live.app.dispatcher.stalled
    return len(people) * ROUNDS, sum(delayed.values()), caught_up


async def test_drill_postgres_stopped_and_started_under_load(
    cluster: PrivateCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await execute_autocommit(cluster.url(), 'CREATE DATABASE "lantern"')
    live, server = await live_on(cluster.url("lantern"), tmp_path)
    # the stop lands inside a handler's transaction (not only between them): that message
    # is journaled, its handling is cut, and it must wait, then be handled once
    armed, inside, cut = asyncio.Event(), asyncio.Event(), asyncio.Event()
    claim = JournalRepository.claim

    async def claim_then_wait(repo: JournalRepository, entry_id: int) -> bool:
        claimed = await claim(repo, entry_id)
        if armed.is_set() and not inside.is_set():
            inside.set()
            await cut.wait()
        return claimed

    monkeypatch.setattr(JournalRepository, "claim", claim_then_wait)
    try:
        people = await seed(live, WRITERS)
        down_seconds = 4.0
        outage: dict[str, float] = {}

        async def restart() -> None:
            armed.set()
            await asyncio.wait_for(inside.wait(), 10)
            began = time.monotonic()
            await asyncio.to_thread(cluster.stop)
            cut.set()
            await asyncio.sleep(down_seconds)
            await asyncio.to_thread(cluster.start)
            outage["seconds"] = time.monotonic() - began

        messages, delayed, caught_up = await under_load(live, people, restart)
        # and it goes on as if nothing happened: a fresh command, answered at once
        started = time.monotonic()
        cursor = live.state.last_seq
        await live.state.inject_text(people[0].uuid, "me")
        [fresh] = await live.state.wait_for_deliveries(people[0].uuid, 1, since=cursor)
        after = time.monotonic() - started
        assert "member0" in (fresh.text or ""), fresh
        assert delayed >= 1  # the cut handling waited, and its sender was told
    finally:
        await live.app.stop()
        await server.stop()
    print(
        f"\nPostgreSQL down {outage['seconds']:.1f} s under {messages} messages from"
        f" {WRITERS} members: every one answered once, {delayed} 'it waits' notices,"
        f" caught up {caught_up:.1f} s after the last message; then `me` in {after * 1000:.0f} ms"
    )


async def test_drill_sqlite_locked_past_the_busy_timeout_under_load(tmp_path: Path) -> None:
    path = tmp_path / "lantern.db"
    live, server = await live_on(f"sqlite+aiosqlite:///{path}", tmp_path)
    try:
        people = await seed(live, WRITERS)
        held = 7.0  # longer than busy_timeout (5 s)

        async def lock() -> None:
            def hold() -> None:
                other = sqlite3.connect(path, timeout=30)
                try:
                    other.execute("BEGIN EXCLUSIVE")
                    time.sleep(held)
                    other.rollback()
                finally:
                    other.close()

            await asyncio.to_thread(hold)

        messages, delayed, caught_up = await under_load(live, people, lock)
    finally:
        await live.app.stop()
        await server.stop()
    print(
        f"\nSQLite locked {held:.0f} s by another process under {messages} messages:"
        f" every one answered once, {delayed} 'it waits' notices, caught up"
        f" {caught_up:.1f} s after the last message"
    )
