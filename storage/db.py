"""Engine and session handling.

One :class:`Database` per application instance (nothing at import time), so tests can
build as many isolated apps as they like.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg.exceptions as pg_errors
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """secure_delete overwrites freed pages, so deleted rows don't linger on disk."""
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA busy_timeout=5000",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


# PostgreSQL: class 08 (connection), 57 (shut down, starting up, cancelled), 53 (too many
# connections); asyncpg's own "the connection went away"
_PG_TRANSIENT = (
    pg_errors.PostgresConnectionError,
    pg_errors.OperatorInterventionError,
    pg_errors.InsufficientResourcesError,
)
# SQLite: another process holds the lock past busy_timeout, or the file went away
_SQLITE_TRANSIENT = ("database is locked", "unable to open database file", "disk i/o error")


def is_transient(exc: BaseException) -> bool:
    """Did the database fail rather than the work: unreachable, restarting, a connection
    cut mid-transaction?  The same work may succeed later, so a caller keeps it (the
    message stays in the journal) instead of dropping it or asking the person to send it
    again.  Anything else — a bug, a constraint — is not retried: it would fail the same.

    Only what the database layer raised counts: a SQLAlchemy ``DBAPIError`` (whose driver
    error and its causes are looked at) or a driver / socket error raised bare while
    connecting.  An application error that merely *wraps* an ``OSError`` is not one.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return _driver_failed(exc.orig)
    return _driver_failed(exc)


def _driver_failed(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # the DBAPI adapter's error, then its cause
        seen.add(id(exc))
        if isinstance(exc, (PoolTimeout, OSError, *_PG_TRANSIENT)):
            return True  # OSError: refused, reset, timed out (TimeoutError is one)
        if isinstance(exc, pg_errors.InterfaceError) and "connection is closed" in str(exc):
            return True
        if isinstance(exc, sqlite3.OperationalError) and any(
            marker in str(exc).lower() for marker in _SQLITE_TRANSIENT
        ):
            return True
        if not type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite")):
            return False
        exc = exc.__cause__
    return False


def make_engine(url: str) -> AsyncEngine:
    """An engine that never puts bound parameters (ciphertext or not) into errors."""
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if is_sqlite(url) and ":memory:" in url:
        kwargs["poolclass"] = NullPool
    elif not is_sqlite(url):
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def execute_autocommit(url: str, statement: str) -> None:
    """For statements that cannot run in a transaction, e.g. CREATE/DROP DATABASE."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception."""
        async with self._sessions() as session, session.begin():
            yield session

    async def checkpoint(self) -> None:
        """SQLite: fold the WAL back into the database and truncate it, so page images
        written before a ``secure_delete`` overwrite do not linger in the -wal file."""
        if is_sqlite(self.url):
            async with self.engine.connect() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

    async def dispose(self) -> None:
        await self.engine.dispose()
