"""Scheduling: APScheduler 3 jobs persisted in the project database (bot/jobs.py)."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, text

from bot import jobs as jobs_module
from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from bot.jobs import SWEEP_ID, WAKE_PREFIX, Jobs, Tick, wake
from bot.jobstore import sync_url
from storage.db import Database
from storage.models import Dialog, apscheduler_jobs, utcnow
from tests.canary import Canaries, canary_word
from tests.casework import ANSWERS_ES, open_intake
from tests.conftest import Chat, FakeMessenger, new_account
from tests.network import Network


class Counter:
    """A stand-in for ``Timers.tick``: counts calls, optionally slow."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.calls = 0
        self.running = 0
        self.overlapped = False
        self.seconds = seconds

    async def __call__(self) -> int:
        self.calls += 1
        self.running += 1
        self.overlapped |= self.running > 1
        await asyncio.sleep(self.seconds)
        self.running -= 1
        return 0


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110  (polls a plain counter)
            await asyncio.sleep(0.02)


def slow_sweep(settings: Settings) -> Settings:
    return settings.model_copy(update={"sweep_seconds": 3600.0})


async def job_rows(db: Database) -> dict[str, bytes]:
    async with db.transaction() as session:
        rows = (await session.execute(select(apscheduler_jobs))).all()
    return {str(r.id): bytes(r.job_state) for r in rows}


@pytest.fixture
async def started(app: LanternApp, settings: Settings) -> AsyncIterator[list[Jobs]]:
    """Jobs instances started by a test; all stopped at the end."""
    made: list[Jobs] = []
    yield made
    for jobs in made:
        await jobs.stop()


async def start(app: LanternApp, settings: Settings, made: list[Jobs], tick: Tick) -> Jobs:
    jobs = Jobs(app.db, slow_sweep(settings), tick, scheduler=AsyncIOScheduler(timezone=UTC))
    made.append(jobs)
    await jobs.start()
    return jobs


def test_jobs_sync_url_maps_the_async_drivers() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x.db").drivername == "sqlite"
    pg = sync_url("postgresql+asyncpg://u:secret@h:5432/d")
    assert pg.drivername == "postgresql+psycopg2"
    assert pg.password == "secret" and pg.database == "d"
    with pytest.raises(ValueError, match="file-backed"):
        sync_url("sqlite+aiosqlite:///:memory:")


async def test_jobs_store_persists_jobs_in_project_database(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    tick = Counter()
    jobs = await start(app, settings, started, tick)
    later = utcnow() + timedelta(hours=5)
    jobs.wake_at("callout:abc:reveal", later)
    wake("callout:def:reveal", later)  # the module-level helper reaches the running one
    await jobs.flush()
    rows = await job_rows(app.db)
    assert set(rows) == {
        SWEEP_ID,
        WAKE_PREFIX + "callout:abc:reveal",
        WAKE_PREFIX + "callout:def:reveal",
    }
    for state in rows.values():
        job = pickle.loads(state)
        assert job["func"] == "bot.jobs:run_sweep"
        assert job["args"] == () and job["kwargs"] == {}
    await until(lambda: tick.calls == 1)  # the start tick


async def test_jobs_rebuild_after_restart_uses_database_deadlines(
    app: LanternApp,
    settings: Settings,
    started: list[Jobs],
    net: Network,
    chat: Chat,
) -> None:
    await open_intake(chat, net)
    fay = new_account()
    for answer in ("intake", "es", ANSWERS_ES[0]):
        await chat.send(fay, answer)  # a draft with a reminder: a deadline in the database
    async with app.db.transaction() as session:
        remind_at = await session.scalar(select(Dialog.remind_at))
    assert remind_at is not None
    first = await start(app, settings, started, Counter())
    first.wake_at("callout:gone:reveal", utcnow() + timedelta(hours=1))
    await first.stop()
    assert WAKE_PREFIX + "callout:gone:reveal" in await job_rows(app.db)

    second = await start(app, settings, started, Counter())
    expected = WAKE_PREFIX + f"at:{int(remind_at.replace(tzinfo=UTC).timestamp())}"
    assert second.wake_ids() == [expected]
    await second.flush()
    assert set(await job_rows(app.db)) == {SWEEP_ID, expected}


async def test_jobs_wake_job_fires_the_tick_once(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    tick = Counter()
    jobs = await start(app, settings, started, tick)
    await until(lambda: tick.calls == 1)
    jobs.wake_at("vote:1", datetime.now(UTC) - jobs_module.SLACK + timedelta(seconds=0.2))
    await until(lambda: tick.calls == 2)
    await asyncio.sleep(0.4)
    assert tick.calls == 2
    assert jobs.wake_ids() == []
    await jobs.flush()
    assert set(await job_rows(app.db)) == {SWEEP_ID}


async def test_jobs_wake_for_a_moment_already_past_runs_without_the_slack(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    """A call-out sent "now" starts going out at once: the second of slack that keeps a
    wake-up from beating a future deadline is no use for one already past."""
    tick = Counter()
    jobs = await start(app, settings, started, tick)
    await until(lambda: tick.calls == 1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    jobs.wake_at("callout:1:send", utcnow())
    await until(lambda: tick.calls == 2)
    assert loop.time() - began < jobs_module.SLACK.total_seconds()


async def test_jobs_wake_inside_an_open_write_transaction_does_not_block(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    """A plain SQLAlchemyJobStore writes synchronously from the event loop: on SQLite it
    waits for the write lock an open transaction holds, which that blocked loop can
    never release ("database is locked" after the busy timeout)."""
    jobs = await start(app, settings, started, Counter())
    loop = asyncio.get_running_loop()
    async with app.db.transaction() as session:
        await session.execute(text("DELETE FROM outbox"))  # holds the write lock
        began = loop.time()
        jobs.wake_at("callout:1:reveal", utcnow() + timedelta(hours=1))
        assert loop.time() - began < 0.5
        await asyncio.sleep(0.1)
    await jobs.flush()
    assert WAKE_PREFIX + "callout:1:reveal" in await job_rows(app.db)


async def test_jobs_sweep_runs_every_interval(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    tick = Counter()
    jobs = Jobs(app.db, settings.model_copy(update={"sweep_seconds": 0.2}), tick)
    started.append(jobs)
    await jobs.start()
    await until(lambda: tick.calls >= 3)


async def test_jobs_ticks_never_overlap_and_a_wake_during_one_is_not_lost(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    tick = Counter(seconds=0.2)
    jobs = await start(app, settings, started, tick)
    await until(lambda: tick.running == 1)  # the start tick, under way
    await asyncio.gather(jobs.run(), jobs.run())  # two wake-ups meanwhile
    await until(lambda: tick.calls == 2 and tick.running == 0)
    await asyncio.sleep(0.3)
    assert tick.calls == 2 and not tick.overlapped


async def test_jobs_due_while_down_fires_once_on_start(
    app: LanternApp,
    settings: Settings,
    started: list[Jobs],
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
) -> None:
    await open_intake(chat, net)
    fay = new_account()
    for answer in ("intake", "es", ANSWERS_ES[0]):
        await chat.send(fay, answer)
    first = await start(app, settings, started, Counter())
    first.wake_at("draft:1", utcnow() + timedelta(milliseconds=300))
    await first.stop()  # down before the wake-up and before the reminder was due
    await asyncio.sleep(0.4)
    later = utcnow() + timedelta(hours=49)  # the reminder fell due while the bot was down
    chat.dispatcher.clock = lambda: later
    second = await start(app, settings, started, chat.dispatcher.timers.tick)
    reminder = translate("es", "intake.reminder", hours=24)
    await until(lambda: reminder in [t for a, t in messenger.sent if a == fay])
    await asyncio.sleep(0.3)
    await second.run()  # another tick: nothing fires twice
    assert [t for a, t in messenger.sent if a == fay].count(reminder) == 1
    assert second.ticks == 2


async def test_jobs_table_holds_no_plaintext(
    app: LanternApp,
    settings: Settings,
    started: list[Jobs],
    net: Network,
    chat: Chat,
) -> None:
    canaries = Canaries()
    secret = canaries.add_text("answer", "landlord " + canary_word("zq"))
    fay = canaries.add_uuid("account", new_account())
    await open_intake(chat, net)
    for answer in ("intake", "es", secret):
        await chat.send(fay, answer)
    jobs = await start(app, settings, started, chat.dispatcher.timers.tick)
    jobs.wake_at("draft:x", utcnow() + timedelta(hours=1))
    with pytest.raises(ValueError, match="opaque"):
        jobs.wake_at("remind fay about the landlord", utcnow())  # keys are opaque
    await jobs.flush()
    rows = await job_rows(app.db)
    assert len(rows) == 3  # the sweep, the draft's reminder, draft:x
    assert canaries.hits(b"\x00".join(f"{k}|".encode() + v for k, v in rows.items())) == []
    async with app.db.transaction() as session:
        raw = (await session.execute(text("SELECT id, job_state FROM apscheduler_jobs"))).all()
    assert all(not canaries.hits(bytes(r.job_state)) for r in raw)


async def test_jobs_without_a_running_instance_do_nothing() -> None:
    assert jobs_module._running is None
    await jobs_module.run_sweep()  # a stale persisted job in a CLI process
    wake("callout:x", utcnow())


async def test_jobs_deadline_created_while_running_gets_a_wake_up_after_a_tick(
    app: LanternApp, settings: Settings, started: list[Jobs], net: Network, chat: Chat
) -> None:
    jobs = await start(app, settings, started, chat.dispatcher.timers.tick)
    await until(lambda: jobs.ticks == 1)
    assert jobs.wake_ids() == []
    await open_intake(chat, net)
    fay = new_account()
    for answer in ("intake", "es", ANSWERS_ES[0]):
        await chat.send(fay, answer)  # a new deadline: the draft's reminder
    async with app.db.transaction() as session:
        remind_at = await session.scalar(select(Dialog.remind_at))
    assert remind_at is not None
    await jobs.run()
    assert jobs.wake_ids() == [WAKE_PREFIX + f"at:{int(remind_at.replace(tzinfo=UTC).timestamp())}"]
    await jobs.run()
    assert len(jobs.wake_ids()) == 1


async def test_jobs_run_on_signalbots_own_scheduler(
    app: LanternApp, settings: Settings, started: list[Jobs]
) -> None:
    from signalbot import SignalBot

    bot = SignalBot(app._signalbot_config())
    assert not bot.scheduler.running  # signalbot starts it only with run_forever=True
    tick = Counter()
    jobs = Jobs(app.db, slow_sweep(settings), tick, scheduler=bot.scheduler)
    await jobs.start()
    assert bot.scheduler.running
    await until(lambda: tick.calls == 1)
    jobs.wake_at("vote:2", datetime.now(UTC) - jobs_module.SLACK + timedelta(seconds=0.1))
    await until(lambda: tick.calls == 2)
    await jobs.stop()
    assert not bot.scheduler.running
    assert asyncio.get_running_loop().is_running()
    await bot.close()


async def test_jobs_stop_cancels_a_tick_under_way_and_keeps_the_loop(
    app: LanternApp, settings: Settings
) -> None:
    tick = Counter(seconds=30)
    jobs = Jobs(app.db, slow_sweep(settings), tick)
    await jobs.start()
    await until(lambda: tick.running == 1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await jobs.stop()
    assert loop.time() - began < 2
    assert jobs_module._running is None and not jobs.scheduler.running
    await jobs_module.run_sweep()  # a job firing after stop finds nothing to run
    assert tick.calls == 1


async def test_jobs_upcoming_deadlines_of_a_call_out(
    app: LanternApp, settings: Settings, net: Network, chat: Chat
) -> None:
    from storage.deadlines import upcoming
    from tests.test_debrief import make_action

    now = utcnow().replace(microsecond=0)
    starts = now + timedelta(hours=30)
    await make_action(app, net.cell, {}, starts_at=starts)
    await make_action(app, net.cell, {}, starts_at=starts, status="cancelled")
    async with app.db.transaction() as session:
        found = await upcoming(session, settings, now=now, limit=100)
    hours = sorted({(t - starts).total_seconds() / 3600 for t in found})
    assert hours == [-24, -2, 0, 3]  # reminders (and nudge, under-fill), reveal, start, debrief
    async with app.db.transaction() as session:
        later = await upcoming(session, settings, now=starts + timedelta(hours=1), limit=100)
    assert [(t - starts).total_seconds() / 3600 for t in later] == [3]
