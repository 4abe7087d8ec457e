"""The retention sweep runs every 30 s forever: its lookup of closed cases past retention
that nobody kept must read only those, through the partial index ``ix_cases_retention``,
not every closed case (kept cases pile up for ever).  The real query, as ``expired``
sends it, is explained by each backend's planner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from bot.app import LanternApp
from storage.db import is_sqlite
from storage.models import utcnow
from storage.repositories import Repositories
from tests.network import Network


async def test_retention_lookup_reads_the_partial_index(net: Network, app: LanternApp) -> None:
    seen: list[tuple[str, Any]] = []

    def capture(_c: object, _cur: object, statement: str, params: Any, *_: object) -> None:
        if "FROM cases" in statement:
            seen.append((statement, params))

    engine = app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        async with app.db.transaction() as session:
            await Repositories(session, app.vault.keys).cases.expired(before=utcnow())
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) == 1, seen
    statement, params = seen[0]
    async with app.db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        if is_sqlite(app.db.url):
            driver = raw.driver_connection
            cursor = await driver.execute(f"EXPLAIN QUERY PLAN {statement}", params)
            plan = " ".join(str(row[-1]) for row in await cursor.fetchall())
        else:
            # as asyncpg runs it: a prepared statement, whose plan PostgreSQL may fix after
            # five runs for any parameter value (a generic plan: a parameter in place of
            # 'closed' could not prove the partial index's condition).  Tiny tables: ask
            # for an index anyway.
            driver = raw.driver_connection
            await driver.execute("SET enable_seqscan = off")
            await driver.execute("SET plan_cache_mode = force_generic_plan")
            await driver.execute(f"PREPARE retention AS {statement}")
            values = ", ".join(_pg_literal(v) for v in params)
            rows = await driver.fetch(f"EXPLAIN EXECUTE retention({values})")
            plan = " ".join(r[0] for r in rows)
            await driver.execute("DEALLOCATE retention; RESET ALL")
    assert "ix_cases_retention" in plan, plan


def _pg_literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
