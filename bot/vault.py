"""Key custody for the running process: sealed, enrolling or unsealed.

* **Sealed** (every start of an active network, and after a panic ``seal``): no key in
  memory.  Inbound messages are still journaled, sealed to the backlog public key, and
  answered with a fixed "received" text.  ``unseal <words>`` messages are collected in
  memory only (never journaled, never logged) until k shares open the root key.
* **Enrolling** (a network fresh from ``lantern init``): the bot generates the unseal key
  and root key in memory, stores only the wrapped root key, and runs unsealed so that
  coordinators can enroll.  When all n have enrolled it splits the unseal key, sends each
  coordinator their share and forgets the unseal key.  If the process stops before that,
  the half-done enrollment cannot be read by anyone and is discarded at the next start:
  coordinators send ``enroll <code>`` again (README says so).
* **Unsealed**: the :class:`~security.Keyring` is in memory.

This module is the only caller of the unseal primitives; field encryption stays in the
repositories.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logging import get_logger
from security import BacklogSealer, Keyring, ShareCollector, ShareError
from security.keyring import new_key
from security.unseal import (
    ArgonParams,
    passphrase_key,
    share_info,
    split_secret,
    unwrap_root,
    wrap_root,
)
from storage.db import Database
from storage.models import (
    Ban,
    Cell,
    CellKey,
    DataKey,
    Dialog,
    InboundJournal,
    Invite,
    Member,
    Membership,
)
from storage.network import NetworkRecord, NetworkRepository
from storage.repositories import Repositories

log = get_logger("lantern.vault")


class NotInitialisedError(RuntimeError):
    """No network in the database: ``lantern init`` has not been run."""


class Progress(Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNSEALED = "unsealed"
    ALREADY = "already"


@dataclass(frozen=True)
class ShareResult:
    progress: Progress
    count: int = 0
    needed: int = 0


class Vault:
    def __init__(self, db: Database, *, unseal_window_seconds: float = 1800) -> None:
        self._db = db
        self._window = unseal_window_seconds
        self.network: NetworkRecord | None = None
        self.keys: Keyring | None = None
        self._unseal_key: bytes | None = None  # only while enrolling, until shares are dealt
        self._collector: ShareCollector | None = None
        self._collector_started = 0.0
        self._lock = asyncio.Lock()
        self._on_seal: list[Callable[[], None]] = []

    def on_seal(self, forget: Callable[[], None]) -> None:
        """Memory derived from the keys (not keys themselves) that a seal must also drop."""
        self._on_seal.append(forget)

    # --- state -----------------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        return self.keys is None

    @property
    def enrolling(self) -> bool:
        return self.network is not None and self.network.state == "enrolling"

    @property
    def sealer(self) -> BacklogSealer:
        assert self.network is not None and self.network.backlog_public is not None
        return BacklogSealer(self.network.backlog_public)

    async def reload(self) -> NetworkRecord:
        async with self._db.transaction() as session:
            network = await NetworkRepository(session).get()
        if network is None:
            raise NotInitialisedError("no network here yet: run `lantern init` first")
        self.network = network
        return network

    async def start(self) -> None:
        """Called once at process start: begin (or restart) enrollment, or stay sealed."""
        network = await self.reload()
        if network.state == "enrolling" and network.mode == "shares":
            await self._begin_enrollment(network)

    async def _begin_enrollment(self, network: NetworkRecord) -> None:
        unseal_key, root = new_key(), new_key()
        keys = Keyring(root)
        epoch = network.epoch + 1
        async with self._db.transaction() as session:
            await _discard_unreadable(session)
            repo = NetworkRepository(session)
            await repo.update(
                network.id,
                root_wrapped=wrap_root(unseal_key, root, network_id=network.id, epoch=epoch),
                backlog_public=keys.backlog_public,
                epoch=epoch,
            )
            await repo.reset_enrollments()
            await repo.seal_name(network.id, keys)
            await Repositories(session, keys).cells.create("council", kind="council")
        self._unseal_key = unseal_key
        self.keys = keys
        await self._db.checkpoint()  # the name given to init was plaintext until now
        await self.reload()
        log.info("enrollment_open", count=network.share_count)

    # --- sealing ---------------------------------------------------------------------

    def seal(self) -> None:
        """Panic: drop every key from memory at once."""
        if self.keys is not None:
            self.keys.forget()
        self.keys = None
        self._unseal_key = None
        if self._collector is not None:
            self._collector.clear()
        self._collector = None
        for forget in self._on_seal:
            forget()
        log.warning("sealed")

    def _open(self, unseal_key: bytes) -> Keyring:
        network = self.network
        assert network is not None and network.root_wrapped is not None
        root = unwrap_root(
            unseal_key, network.root_wrapped, network_id=network.id, epoch=network.epoch
        )
        return Keyring(root)

    async def submit_share(self, words: str) -> ShareResult:
        """One coordinator's share words, from an ``unseal`` message.  Memory only."""
        async with self._lock:
            network = self.network
            if not self.sealed:
                return ShareResult(Progress.ALREADY)
            if network is None or network.mode != "shares" or network.share_identifier is None:
                return ShareResult(Progress.REJECTED)
            if (
                self._collector is not None
                and time.monotonic() - self._collector_started > self._window
            ):
                self._collector.clear()
                self._collector = None
            if self._collector is None:
                self._collector = ShareCollector(
                    identifier=network.share_identifier, threshold=network.threshold
                )
                self._collector_started = time.monotonic()
            try:
                count = self._collector.add(words)
                if not self._collector.complete:
                    return ShareResult(Progress.ACCEPTED, count, network.threshold)
                self.keys = self._open(self._collector.combine())
            except ShareError:
                log.warning("share_rejected")
                return ShareResult(Progress.REJECTED)
            self._collector = None
            log.warning("unsealed", method="shares")
            return ShareResult(Progress.UNSEALED, network.threshold, network.threshold)

    async def submit_passphrase(self, passphrase: str) -> ShareResult:
        """Single-operator mode.  Argon2id runs in a thread: it takes 64 MiB and ~0.2 s."""
        async with self._lock:
            network = self.network
            if not self.sealed:
                return ShareResult(Progress.ALREADY)
            if network is None or network.mode != "passphrase" or network.argon_salt is None:
                return ShareResult(Progress.REJECTED)
            params = ArgonParams(
                time_cost=network.argon_time or 3, memory_kib=network.argon_memory_kib or 65536
            )
            key = await asyncio.to_thread(passphrase_key, passphrase, network.argon_salt, params)
            try:
                self.keys = self._open(key)
            except ShareError:
                log.warning("passphrase_rejected")
                return ShareResult(Progress.REJECTED)
            log.warning("unsealed", method="passphrase")
            return ShareResult(Progress.UNSEALED, 1, 1)

    # --- dealing shares ----------------------------------------------------------------

    def ready_to_deal(self) -> bool:
        return self.enrolling and self._unseal_key is not None

    def split(self) -> tuple[int, list[str]]:
        """Split the enrollment's unseal key: (identifier, one share per coordinator)."""
        assert self.network is not None and self._unseal_key is not None
        shares = split_secret(
            self._unseal_key, threshold=self.network.threshold, count=self.network.share_count
        )
        return share_info(shares[0]).identifier, shares

    async def reroll(self) -> None:
        """A deal failed half way: replace the unseal key before the next attempt.

        Shares that reached some coordinators in the failed round were a split of the old
        unseal key; re-wrapping the root key under a new one (next epoch) makes them open
        nothing, so a later retry cannot leave k valid stray shares behind.
        """
        async with self._lock:
            network, old = self.network, self._unseal_key
            if network is None or old is None or network.root_wrapped is None:
                return
            root = unwrap_root(
                old, network.root_wrapped, network_id=network.id, epoch=network.epoch
            )
            fresh = new_key()
            epoch = network.epoch + 1
            async with self._db.transaction() as session:
                await NetworkRepository(session).update(
                    network.id,
                    root_wrapped=wrap_root(fresh, root, network_id=network.id, epoch=epoch),
                    epoch=epoch,
                )
            self._unseal_key = fresh
        await self.reload()
        log.warning("unseal_key_rerolled")

    async def dealt(self, identifier: int) -> None:
        """Every share was delivered: the network is active and the unseal key forgotten."""
        assert self.network is not None
        async with self._db.transaction() as session:
            await NetworkRepository(session).update(
                self.network.id, state="active", share_identifier=identifier
            )
        self._unseal_key = None
        await self.reload()
        log.warning("shares_dealt", count=self.network.share_count)

    async def activate(self) -> None:
        """Passphrase mode: all coordinators enrolled, nothing to deal."""
        assert self.network is not None
        async with self._db.transaction() as session:
            await NetworkRepository(session).update(self.network.id, state="active")
        await self.reload()

    # --- rekeying (changing the set of coordinators or the threshold) ------------------

    def rekey(
        self, unseal_key: bytes, new_threshold: int, new_count: int
    ) -> tuple[bytes, int, list[str]]:
        """Check that ``unseal_key`` (put together from k current shares) opens this
        network, then make a new unseal key and split it: (new key, identifier, shares).

        Nothing is stored and nothing is kept: the caller delivers the shares and only
        then calls :meth:`commit_rekey`.  Raises :class:`ShareError` if the key is wrong.
        """
        network = self.network
        if (
            self.keys is None
            or network is None
            or network.mode != "shares"
            or network.state != "active"
            or network.root_wrapped is None
        ):
            raise ShareError
        unwrap_root(unseal_key, network.root_wrapped, network_id=network.id, epoch=network.epoch)
        new_unseal_key = new_key()
        while True:  # a 15-bit identifier: never reuse the current one
            shares = split_secret(new_unseal_key, threshold=new_threshold, count=new_count)
            identifier = share_info(shares[0]).identifier
            if identifier != network.share_identifier:
                return new_unseal_key, identifier, shares

    async def commit_rekey(
        self,
        unseal_key: bytes,
        new_unseal_key: bytes,
        *,
        identifier: int,
        threshold: int,
        count: int,
        epoch: int,
        roles: dict[str, str],
    ) -> None:
        """Every new share was delivered: wrap the *same* root key under the new unseal
        key at the next epoch, and change coordinators' roles, in one transaction.

        ``epoch`` is the epoch the rekey started from; if it moved, nothing is written.
        Old shares stop working: their identifier and the wrap's epoch are both gone.
        """
        async with self._lock:
            network, keys = self.network, self.keys
            if keys is None or network is None or network.root_wrapped is None:
                raise ShareError
            if network.epoch != epoch or network.mode != "shares" or network.state != "active":
                raise ShareError
            root = unwrap_root(
                unseal_key, network.root_wrapped, network_id=network.id, epoch=network.epoch
            )
            wrapped = wrap_root(new_unseal_key, root, network_id=network.id, epoch=epoch + 1)
            async with self._db.transaction() as session:
                repo = NetworkRepository(session)
                current = await repo.get()
                if current is None or current.epoch != epoch:
                    raise ShareError
                await repo.update(
                    network.id,
                    root_wrapped=wrapped,
                    epoch=epoch + 1,
                    threshold=threshold,
                    share_count=count,
                    share_identifier=identifier,
                )
                members = Repositories(session, keys).members
                for member_id, role in roles.items():
                    await members.set_role(member_id, role)
            await self.reload()
        log.warning("rekeyed", count=count)


async def _discard_unreadable(session: AsyncSession) -> None:
    """Rows written under a root key that died with an earlier, unfinished enrollment."""
    for model in (Membership, Invite, Ban, Member, Dialog, InboundJournal, DataKey, CellKey, Cell):
        await session.execute(delete(model))
