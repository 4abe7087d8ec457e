"""The migrations build exactly the schema the models describe, on both backends.

Alembic's autogenerate comparison runs against a database brought to ``head`` by the
real migrations (``tests/conftest.py`` upgrades every test database that way, never
``create_all``): any table, column, type, nullability, server default, index, unique
constraint or foreign key that a migration forgot, or wrote differently from
:mod:`storage.models`, shows up as a difference.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.migrate import head_revision
from storage.models import Base

# Differences accepted, and why: none.  (``cells.intake_open`` once differed: the migration
# needs a server default to fill existing rows, so the model declares the same one.)
# Anything added here must say why; every other difference fails the test.
ACCEPTED_DEFAULTS: set[tuple[str, str]] = set()


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    """``compare_metadata`` groups column modifications in lists; one tuple each."""
    flat: list[tuple[Any, ...]] = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat


def _accepted(diff: tuple[Any, ...]) -> bool:
    return diff[0] == "modify_default" and (diff[2], diff[3]) in ACCEPTED_DEFAULTS


def _compare(
    connection: Connection, metadata: MetaData = Base.metadata
) -> tuple[str | None, list[tuple[Any, ...]]]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True},
    )
    return context.get_current_revision(), _flatten(compare_metadata(context, metadata))


def _models_plus_one_column() -> MetaData:
    """The models with a column the migrations never created (a positive control)."""
    copy = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    copy.tables["cases"].append_column(Column("forgotten", Integer, nullable=True))
    return copy


async def test_migrations_match_models_with_no_autogenerate_differences(
    database_url: str,
) -> None:
    """``alembic upgrade head`` then autogenerate against ``Base.metadata`` (types and
    server defaults compared too): nothing to add, drop or alter, on SQLite and on
    PostgreSQL, apart from the one justified server default above."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            revision, diffs = await conn.run_sync(_compare)
            _rev, control = await conn.run_sync(_compare, _models_plus_one_column())
    finally:
        await engine.dispose()
    assert revision == head_revision()
    assert [d[0] for d in control if not _accepted(d)] == ["add_column"]  # it does look
    unexpected = [d for d in diffs if not _accepted(d)]
    print(
        f"\nautogenerate ({database_url.split(':')[0]}): {len(diffs)} differences, "
        f"{len(diffs) - len(unexpected)} accepted: {[d[:4] for d in diffs]}"
    )
    assert unexpected == []


def test_migrations_no_difference_is_waved_through() -> None:
    """The filter accepts nothing today: a default difference on any column fails."""
    assert not _accepted(("modify_default", None, "cells", "intake_open", {}, None, None))
    assert not _accepted(("modify_default", None, "cases", "keep", {}, None, None))
    assert not _accepted(("add_column", None, "cells", "intake_open"))
