"""A bootstrapped network, made once per backend and settings, restored for each test.

Bootstrapping (init, three coordinators enrolling, shares dealt, a cell, its organizer)
is about 25 messages through the real dispatcher: about a second a test, most of the
suite's time.  The first test on a backend bootstraps for real; its database rows, the
fake Signal's state and the :class:`Network` are kept, and later tests get the same
rows copied into their own fresh database, then unseal with two coordinators' shares
through the real vault — the state a restarted bot is in after two ``unseal`` messages.
Tests that need the bootstrap itself (enrollment, dealing shares) call
:func:`tests.network.bootstrap` directly, as before.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, insert, select, text

from bot.app import LanternApp
from bot.config import Settings
from storage.models import Base
from tests.network import Network, bootstrap

if TYPE_CHECKING:
    from tests.conftest import Chat, FakeMessenger

SKIP_SETTINGS = {"data_dir", "database_url"}


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, list[dict[str, Any]]]
    network: Network
    messenger: dict[str, Any]
    next_ts: int


_SNAPSHOTS: dict[tuple[str, str], Snapshot] = {}


def _key(settings: Settings) -> tuple[str, str]:
    backend = "sqlite" if settings.effective_database_url.startswith("sqlite") else "postgresql"
    return backend, settings.model_dump_json(exclude=SKIP_SETTINGS)


async def bootstrapped(app: LanternApp, chat: Chat) -> Network:
    """The ``net`` fixture's network: bootstrapped the first time, restored after."""
    key = _key(app.settings)
    found = _SNAPSHOTS.get(key)
    if found is None:
        network = await bootstrap(app, chat)
        _SNAPSHOTS[key] = await _take(app, chat, network)
        return network
    return await _restore(app, chat, found)


async def _take(app: LanternApp, chat: Chat, network: Network) -> Snapshot:
    rows: dict[str, list[dict[str, Any]]] = {}
    async with app.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table))
            rows[table.name] = [dict(r._mapping) for r in result]
    state = {f.name: copy.deepcopy(getattr(chat.messenger, f.name)) for f in fields(chat.messenger)}
    return Snapshot(rows, copy.deepcopy(network), state, chat.next_ts())


async def _restore(app: LanternApp, chat: Chat, snap: Snapshot) -> Network:
    async with app.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            if snap.rows[table.name]:
                await session.execute(insert(table), snap.rows[table.name])
        if session.bind.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if isinstance(column.type, Integer) and column.autoincrement is not False:
                        await session.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                f"'{column.name}'), COALESCE(MAX({column.name}), 0) + 1, false) "
                                f"FROM {table.name}"
                            )
                        )
    messenger: FakeMessenger = chat.messenger
    for name, value in snap.messenger.items():
        setattr(messenger, name, copy.deepcopy(value))
    chat._ts = max(chat._ts, snap.next_ts)
    await app.vault.start()
    network = copy.deepcopy(snap.network)
    for who in network.coordinators[: network.threshold]:
        await app.vault.submit_share(network.shares[who])
    assert app.vault.keys is not None, "the snapshot did not unseal"
    return network
