"""Key rotation, done by the running, unsealed bot.

The CLI never holds keys, so ``lantern keys rotate`` only *requests* a rotation by setting
``network.rotation_requested_at``; :class:`KeyMaintenance` (started by the app) notices the
request while the vault is unsealed and calls :func:`rotate_now`:

1. every cell whose newest KEK is older than the request gets ONE new KEK version (one
   transaction for all cells).  A cell whose newest KEK was created at or after the
   request counts as rotated, so a restart after a crash never adds a second version;
2. each cell's data keys are re-wrapped onto the new version in batches, each batch in
   its own transaction (an interruption loses at most one batch);
3. KEK versions no data key uses any more are deleted (and dropped from the keyring);
4. the request is cleared, only if nothing is left on an old version and nobody asked
   again meanwhile.

Clocks: the request stamp is compared with ``cell_keys.created_at``, which the bot
writes.  The CLI stamps the request after every existing KEK (so a CLI clock running
behind cannot make a cell look rotated already) and the bot pulls a stamp that lies in its
own future back to its "now" (so a CLI clock running ahead cannot make fresh KEKs look
old).  :func:`rotation_status` reads progress without any key, for the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logging import get_logger
from bot.vault import NotInitialisedError, Vault
from security import Keyring
from storage.common import aware
from storage.db import Database
from storage.keystore import KeyStore, rotation_progress
from storage.models import CellKey, DataKey, Network, utcnow
from storage.network import NetworkRepository

log = get_logger("lantern.keyjobs")

DEFAULT_BATCH = 200
DEFAULT_INTERVAL = 5.0

ProgressCallback = Callable[[int, int], None]


class VaultSealedError(RuntimeError):
    """The vault is (or became) sealed: rotation resumes after the next unseal."""


@dataclass(frozen=True)
class RotationStatus:
    """Progress of key rotation, computed without any key."""

    requested_at: datetime | None
    cells: int  # cells that have at least one KEK
    cells_pending: int  # cells not yet given a new KEK under the pending request
    old_keys: int  # data keys on an older KEK version than their cell's newest
    remaining: int  # data keys still to re-wrap for the pending request (incl. old_keys)

    @property
    def done(self) -> bool:
        return self.requested_at is None and self.old_keys == 0


# --- keyless: used by the CLI --------------------------------------------------------


async def _newest_keys(session: AsyncSession) -> dict[str, tuple[int, datetime]]:
    """Each cell's newest KEK version and when it was created."""
    newest: dict[str, tuple[int, datetime]] = {}
    rows = await session.execute(select(CellKey.cell_id, CellKey.version, CellKey.created_at))
    for cell_id, version, created in rows:
        if cell_id not in newest or version > newest[cell_id][0]:
            newest[cell_id] = (version, aware(created))
    return newest


def _pending(newest: dict[str, tuple[int, datetime]], requested: datetime) -> list[str]:
    return [cell for cell, (_v, created) in newest.items() if created < requested]


async def rotation_status(session: AsyncSession) -> RotationStatus:
    """Where rotation stands; raises :class:`NotInitialisedError` without a network."""
    network = await NetworkRepository(session).get()
    if network is None:
        raise NotInitialisedError("no network here yet: run `lantern init` first")
    progress = await rotation_progress(session)
    requested = network.rotation_requested_at
    remaining = progress.old_keys
    pending: list[str] = []
    if requested is not None:
        newest = await _newest_keys(session)
        pending = _pending(newest, requested)
        counts = await session.execute(
            select(DataKey.cell_id, DataKey.kek_version, func.count())
            .where(DataKey.cell_id.in_(pending))
            .group_by(DataKey.cell_id, DataKey.kek_version)
        )
        # Keys in a cell not rotated yet, still on its newest version: not in old_keys.
        remaining += sum(n for cell, v, n in counts if v == newest[cell][0])
    return RotationStatus(requested, progress.cells, len(pending), progress.old_keys, remaining)


async def request_rotation(db: Database) -> tuple[datetime, bool]:
    """Record a rotation request (no key needed): (its stamp, whether it is new).

    A request already pending is kept, not restamped: restamping would rotate the cells
    already done a second time.
    """
    async with db.transaction() as session:
        repo = NetworkRepository(session)
        network = await repo.get()
        if network is None:
            raise NotInitialisedError("no network here yet: run `lantern init` first")
        if network.rotation_requested_at is not None:
            return network.rotation_requested_at, False
        newest = await session.scalar(select(func.max(CellKey.created_at)))
        stamp = utcnow()
        if newest is not None and aware(newest) >= stamp:
            stamp = aware(newest) + timedelta(microseconds=1)
        await repo.update(network.id, rotation_requested_at=stamp)
        return stamp, True


# --- keyed: only the unsealed bot -----------------------------------------------------


def _keys(vault: Vault) -> Keyring:
    keys = vault.keys
    if keys is None:
        raise VaultSealedError("sealed")
    return keys


async def _claim(db: Database) -> datetime:
    """The pending request's stamp; one is made if none is pending (rotate now)."""
    async with db.transaction() as session:
        repo = NetworkRepository(session)
        network = await repo.get()
        if network is None:
            raise NotInitialisedError("no network here yet: run `lantern init` first")
        now = utcnow()
        requested = network.rotation_requested_at
        if requested is None or requested > now:
            requested = now
            await repo.update(network.id, rotation_requested_at=requested)
        return requested


async def _new_versions(db: Database, vault: Vault, requested: datetime) -> int:
    """One new KEK version for every cell not yet rotated under this request."""
    async with db.transaction() as session:
        store = KeyStore(session, _keys(vault))
        pending = _pending(await _newest_keys(session), requested)
        for cell_id in sorted(pending):
            await store.new_cell_key(cell_id)
    return len(pending)


async def _rewrap_and_retire(
    db: Database, vault: Vault, *, batch: int, total: int, on_progress: ProgressCallback | None
) -> int:
    moved_total = 0
    async with db.transaction() as session:
        cells = await KeyStore(session, _keys(vault)).cells_with_keys()
    for cell_id in sorted(cells):
        while True:
            async with db.transaction() as session:
                moved = await KeyStore(session, _keys(vault)).rewrap_batch(cell_id, batch)
            if not moved:
                break
            moved_total += moved
            if on_progress is not None:
                on_progress(moved_total, max(total, moved_total))
        async with db.transaction() as session:
            await KeyStore(session, _keys(vault)).retire_old_versions(cell_id)
    return moved_total


async def _finish(db: Database, requested: datetime) -> bool:
    """Clear the request if nothing is left on an old version and it was not renewed."""
    async with db.transaction() as session:
        if (await rotation_progress(session)).old_keys:
            return False  # a key written on an old version meanwhile: the next pass moves it
        await session.execute(
            update(Network)
            .where(Network.rotation_requested_at == requested)
            .values(rotation_requested_at=None)
        )
    return True


async def rotate_now(
    db: Database,
    vault: Vault,
    *,
    batch: int = DEFAULT_BATCH,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Carry out the pending rotation request (making one if none is pending).

    Returns how many data keys this call re-wrapped.  ``on_progress(done, total)`` runs
    after each committed batch.  Raises :class:`VaultSealedError` if the vault is or
    becomes sealed; whatever was committed stays, and the next call resumes.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    _keys(vault)
    started = time.monotonic()
    try:
        requested = await _claim(db)
        rotated = await _new_versions(db, vault, requested)
        async with db.transaction() as session:
            total = (await rotation_progress(session)).old_keys
        log.info("key_rotation", status="started", count=rotated, pending=total)
        moved = await _rewrap_and_retire(
            db, vault, batch=batch, total=total, on_progress=on_progress
        )
        finished = await _finish(db, requested)
    except VaultSealedError:
        raise
    except Exception:
        if vault.sealed:  # sealed mid-batch: the keyring was emptied under our feet
            raise VaultSealedError("sealed") from None
        raise
    log.info(
        "key_rotation",
        status="done" if finished else "again",
        count=moved,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return moved


class KeyMaintenance:
    """Background loop: while the vault is unsealed, carry out requested rotations."""

    def __init__(self, *, interval: float = DEFAULT_INTERVAL, batch: int = DEFAULT_BATCH) -> None:
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, db: Database, vault: Vault) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(db, vault), name="lantern-keyjobs")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def tick(self, db: Database, vault: Vault) -> int:
        """One check: rotate if a request is pending and the vault is unsealed."""
        if vault.sealed:
            return 0
        async with db.transaction() as session:
            network = await NetworkRepository(session).get()
        if network is None or network.rotation_requested_at is None:
            return 0
        return await rotate_now(db, vault, batch=self.batch)

    async def _loop(self, db: Database, vault: Vault) -> None:
        while True:
            try:
                await self.tick(db, vault)
            except VaultSealedError:
                log.info("key_rotation", status="sealed")
            except Exception as exc:  # keep the loop alive; the request stays pending
                log.warning("key_rotation", status="failed", error_type=type(exc).__name__)
            await asyncio.sleep(self.interval)
