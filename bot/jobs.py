"""Scheduling through APScheduler 3 (signalbot's ``bot.scheduler``), persisted in the
project database.

Two kinds of job, both calling :func:`run_sweep`, which runs one timer tick
(:meth:`bot.timers.Timers.tick`: every deadline is read from the database and done
idempotently):

- ``lantern:sweep``: every ``sweep_seconds``, the safety net;
- ``lantern:wake:<key>``: one date job per upcoming deadline (a reveal at 18:00, a vote
  closing), so it is handled on time rather than up to ``sweep_seconds`` late.
  Features call :func:`wake` (or :meth:`Jobs.wake_at`) with an opaque key.

Jobs carry no arguments at all: the id holds an opaque key, and the deadlines live in the
encrypted tables.  On start every persisted ``lantern:`` job is dropped, the sweep runs
once at once (whatever fell due while the bot was down is done now, once), and wake jobs
are rebuilt from the deadline columns.  Ticks never overlap: a wake-up arriving during a
tick makes one more tick right after it, so nothing due is skipped.

Integration (bot/app.py)::

    jobs = Jobs(self.db, self.settings, dispatcher.timers.tick, scheduler=bot.scheduler)
    await jobs.start()      # instead of dispatcher.timers.start()
    ...
    await jobs.stop()       # instead of dispatcher.timers.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.jobstore import ProjectJobStore
from bot.logging import get_logger
from storage.db import Database
from storage.deadlines import upcoming
from storage.models import utcnow

log = get_logger("lantern.jobs")

PREFIX = "lantern:"
SWEEP_ID = PREFIX + "sweep"
WAKE_PREFIX = PREFIX + "wake:"
FUNC = "bot.jobs:run_sweep"
STORE = "lantern"
REBUILD_LIMIT = 500
REFRESH_LIMIT = 50  # after each tick: wake-ups for the next deadlines, if missing
GRACE_SECONDS = 7 * 24 * 3600  # a job missed while down still runs (once) when it returns
SLACK = timedelta(seconds=1)  # wake just after a deadline, never just before it
KEY = re.compile(r"[A-Za-z0-9_.:-]{1,120}")

Tick = Callable[[], Awaitable[int]]

_running: Jobs | None = None  # the started instance; jobs find the app through it


async def run_sweep() -> None:
    """The job function of every Lantern job.  A persisted job found by a process that
    runs no bot (the CLI) does nothing."""
    jobs = _running
    if jobs is not None:
        await jobs.run()


def wake(key: str, when: datetime) -> None:
    """Ask for a tick at ``when`` (a no-op when no scheduler runs, e.g. in tests).

    ``key`` is opaque (``callout:<id>:reveal``): letters, digits and ``_.:-`` only, never a
    name, an account or text.  The same key again moves the wake-up."""
    if _running is not None:
        _running.wake_at(key, when)


def _key(moment: datetime) -> str:
    return f"at:{int(moment.timestamp())}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Jobs:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        tick: Tick,
        *,
        scheduler: AsyncIOScheduler | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._settings = settings
        self._tick = tick
        self._scheduler = scheduler if scheduler is not None else AsyncIOScheduler(timezone=UTC)
        self._clock = clock
        self._store: ProjectJobStore | None = None
        self._busy = False
        self._again = False
        self._task: asyncio.Task[Any] | None = None
        self.ticks = 0  # ticks run by this instance

    @property
    def scheduler(self) -> AsyncIOScheduler:
        return self._scheduler

    @property
    def store(self) -> ProjectJobStore | None:
        return self._store

    # --- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        global _running
        root = logging.getLogger().level
        logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root))  # no job details
        store = ProjectJobStore(self._db.url)
        await asyncio.wrap_future(store.load(drop_prefix=PREFIX))  # rebuilt below
        self._store = store
        self._scheduler.add_jobstore(store, alias=STORE)
        if not self._scheduler.running:
            self._scheduler.start()  # signalbot starts it only with run_forever=True
        _running = self
        self._scheduler.add_job(
            FUNC,
            "interval",
            seconds=self._settings.sweep_seconds,
            id=SWEEP_ID,
            jobstore=STORE,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=GRACE_SECONDS,
            next_run_time=datetime.now(UTC),  # at once: what fell due while down, once
        )
        count = await self.rebuild()
        log.info("jobs_started", count=count)

    async def stop(self) -> None:
        """Stop scheduling (the event loop keeps running); a tick under way is cancelled
        and rolls back, to be done again after the next start."""
        global _running
        if _running is self:
            _running = None
        store, self._store = self._store, None
        if store is None:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.wrap_future(store.flushed())
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)  # runs on the loop's next turn
            await asyncio.sleep(0)
        closed = store.closed
        if closed is not None:
            await asyncio.wrap_future(closed)

    async def flush(self) -> None:
        """Wait until the jobs table holds every change made so far (tests, shutdown)."""
        if self._store is not None:
            await asyncio.wrap_future(self._store.flushed())

    # --- wake-ups --------------------------------------------------------------------

    def wake_at(self, key: str, when: datetime) -> None:
        if not KEY.fullmatch(key):
            raise ValueError("a wake-up key is opaque: letters, digits and _.:- only")
        if self._store is None:
            return
        # a moment already past (a call-out sent "now") is due as soon as the job runs:
        # the slack that keeps a wake-up from beating its deadline would only delay it
        moment, now = _aware(when), utcnow()
        self._scheduler.add_job(
            FUNC,
            "date",
            run_date=now if moment <= now else moment + SLACK,
            id=WAKE_PREFIX + key,
            jobstore=STORE,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=GRACE_SECONDS,
        )

    def wake_ids(self) -> list[str]:
        return [
            job.id
            for job in self._scheduler.get_jobs(jobstore=STORE)
            if job.id.startswith(WAKE_PREFIX)
        ]

    async def rebuild(self) -> int:
        """Replace every wake-up with one per upcoming deadline in the database (the
        next :data:`REBUILD_LIMIT`; later ones are added by later rebuilds and sweeps)."""
        for job_id in self.wake_ids():
            self._scheduler.remove_job(job_id, jobstore=STORE)
        now = self._clock()
        async with self._db.transaction() as session:
            moments = await upcoming(session, self._settings, now=now, limit=REBUILD_LIMIT)
        for moment in moments:
            self.wake_at(_key(moment), moment)
        return len(moments)

    async def refresh(self) -> int:
        """Add wake-ups for the next deadlines that have none (a call-out created since
        the last tick), so features need not call :func:`wake` to be on time."""
        if self._store is None:
            return 0
        async with self._db.transaction() as session:
            moments = await upcoming(
                session, self._settings, now=self._clock(), limit=REFRESH_LIMIT
            )
        missing = [m for m in moments if self._store.lookup_job(WAKE_PREFIX + _key(m)) is None]
        for moment in missing:
            self.wake_at(_key(moment), moment)
        return len(missing)

    # --- the job ---------------------------------------------------------------------

    async def run(self) -> None:
        """One tick at a time; a wake-up during a tick asks for one more after it."""
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._task = asyncio.current_task()
        try:
            while True:
                self._again = False
                self.ticks += 1
                try:
                    await self._tick()
                    await self.refresh()
                except Exception as exc:  # the next tick tries again
                    log.error("timers_failed", error_type=type(exc).__name__)
                if not self._again:
                    break
        finally:
            self._busy = False
            self._task = None
