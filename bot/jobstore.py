"""APScheduler 3's SQLAlchemy job store on the project database, without blocking the bot.

APScheduler calls a job store synchronously, from the event loop.  A plain
``SQLAlchemyJobStore`` on SQLite therefore deadlocks the bot: while any handler holds the
database's write lock across an ``await`` (every transaction does), a synchronous write
from the loop waits for a lock that can only be released by the loop it is blocking,
until SQLite gives up with "database is locked" and the scheduler stops waking up.

So this store keeps the live schedule in memory (APScheduler's own ``MemoryJobStore``),
and writes every change, in order, through one background thread into the
``apscheduler_jobs`` table (created by migration 0004, never by the store), in the format
``SQLAlchemyJobStore`` itself uses.  A change lost in a crash costs nothing: the database
deadlines are the source of truth and :meth:`bot.jobs.Jobs.start` rebuilds the schedule.

Jobs hold only a function reference and opaque keys (architecture gotcha 11).
"""

from __future__ import annotations

import pickle
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import URL, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.logging import get_logger
from storage.db import is_sqlite
from storage.models import apscheduler_jobs

log = get_logger("lantern.jobs")

WRITE_ATTEMPTS = 6


def sync_url(url: str) -> URL:
    """The synchronous twin of the project's async database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("the job store needs a file-backed SQLite database")
        return parsed.set(drivername="sqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg2")
    raise ValueError(f"no job store for the {backend} backend")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("PRAGMA secure_delete=ON", "PRAGMA busy_timeout=30000"):
        cursor.execute(pragma)
    cursor.close()


class ProjectJobStore(SQLAlchemyJobStore):  # type: ignore[misc]  # apscheduler is untyped
    """In-memory schedule, written behind (in order) to ``apscheduler_jobs``."""

    def __init__(self, url: str) -> None:
        target = sync_url(url)
        engine = create_engine(target, hide_parameters=True, pool_size=1, max_overflow=0)
        if is_sqlite(url):
            event.listen(engine, "connect", _sqlite_pragmas)
        super().__init__(engine=engine)
        self.jobs_t = apscheduler_jobs  # the migrated table; start() never creates it
        self._memory = MemoryJobStore()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantern-jobs")
        self._rows: list[tuple[str, bytes]] = []
        self.closed: Future[None] | None = None  # set by shutdown()
        self.failed_writes = 0

    # --- start and stop --------------------------------------------------------------

    def load(self, *, drop_prefix: str = "") -> Future[int]:
        """Read the persisted jobs (before the scheduler starts this store), deleting
        those whose id starts with ``drop_prefix``: they are about to be rebuilt."""
        return self._writer.submit(self._load, drop_prefix)

    def _load(self, drop_prefix: str) -> int:
        table = self.jobs_t
        with self.engine.begin() as conn:
            if drop_prefix:
                conn.execute(table.delete().where(table.c.id.startswith(drop_prefix)))
            rows = conn.execute(select(table.c.id, table.c.job_state)).all()
        self._rows = [(str(r.id), bytes(r.job_state)) for r in rows]
        return len(self._rows)

    def start(self, scheduler: Any, alias: str) -> None:
        # BaseJobStore.start only: SQLAlchemyJobStore.start would create the table.
        super(SQLAlchemyJobStore, self).start(scheduler, alias)
        for job_id, state in self._rows:
            try:
                self._memory.add_job(self._reconstitute_job(state))
            except Exception as exc:  # a job of an older version: drop it
                log.warning("job_dropped", error_type=type(exc).__name__)
                self._submit("delete", job_id)
        self._rows = []

    def shutdown(self) -> None:
        """Writes already queued still reach the table; nothing waits for them here."""
        self.closed = self._writer.submit(self.engine.dispose)
        self._writer.shutdown(wait=False)

    def flushed(self) -> Future[None]:
        """Done once every change made so far is in the table."""
        return self._writer.submit(lambda: None)

    # --- reads: the live schedule ----------------------------------------------------

    def lookup_job(self, job_id: str) -> Any:
        return self._memory.lookup_job(job_id)

    def get_due_jobs(self, now: Any) -> list[Any]:
        return list(self._memory.get_due_jobs(now))

    def get_next_run_time(self) -> Any:
        return self._memory.get_next_run_time()

    def get_all_jobs(self) -> list[Any]:
        return list(self._memory.get_all_jobs())

    # --- writes: memory now, the table next -------------------------------------------

    def add_job(self, job: Any) -> None:
        self._memory.add_job(job)  # raises ConflictingIdError, as the scheduler expects
        self._put(job)

    def update_job(self, job: Any) -> None:
        self._memory.update_job(job)
        self._put(job)

    def remove_job(self, job_id: str) -> None:
        self._memory.remove_job(job_id)
        self._submit("delete", job_id)

    def remove_all_jobs(self) -> None:
        self._memory.remove_all_jobs()
        self._submit("clear", None)

    def _put(self, job: Any) -> None:
        state = pickle.dumps(job.__getstate__(), self.pickle_protocol)  # as it is now
        self._submit("put", job.id, datetime_to_utc_timestamp(job.next_run_time), state)

    def _submit(
        self, op: str, job_id: str | None, next_run: float | None = None, state: bytes = b""
    ) -> None:
        self._writer.submit(self._write, op, job_id, next_run, state)

    def _write(self, op: str, job_id: str | None, next_run: float | None, state: bytes) -> None:
        """In the writer thread: may wait for a lock without holding up the bot."""
        table = self.jobs_t
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.engine.begin() as conn:
                    if op == "clear":
                        conn.execute(table.delete())
                        return
                    conn.execute(table.delete().where(table.c.id == job_id))
                    if op == "put":
                        conn.execute(
                            table.insert().values(
                                id=job_id, next_run_time=next_run, job_state=state
                            )
                        )
                return
            except SQLAlchemyError as exc:
                log.warning("job_write_retry", error_type=type(exc).__name__, attempt=attempt)
                time.sleep(min(0.1 * 2**attempt, 5.0))
        self.failed_writes += 1
        log.error("job_write_failed", count=self.failed_writes)
