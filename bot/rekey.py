"""Changing who holds the unseal key: k current shares re-split it among a new set.

Adding or removing a coordinator, or changing the threshold, needs the unseal key, which
nobody holds: k current coordinators send ``approve <their share words>`` (taken aside by
the dispatcher like ``unseal``: never journaled, stored or logged).  One coordinator
alone can mark, propose and cancel, but never change anything.

```mermaid
stateDiagram-v2
    [*] --> proposed: REKEY [k] (a coordinator)
    proposed --> [*]: REKEY CANCEL, expiry, seal
    proposed --> proposed: APPROVE <words> (fewer than k)
    proposed --> dealing: the k-th valid APPROVE
    dealing --> [*]: every new share delivered → committed (epoch + 1)
    dealing --> [*]: any failure → nothing changed, old shares still work
```

Everything here lives in memory: the proposal (handles and member ids), the removal
marks and the approvals' share words.  A restart starts sealed and forgets all of it,
which is the safe direction: nothing changes until k coordinators approve again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.context import Outgoing
from bot.i18n import _, translate
from bot.logging import get_logger
from bot.messenger import Messenger, deliver
from bot.quarantine import Quarantine
from bot.vault import Vault
from security import Keyring, ShareCollector, ShareError
from storage.db import Database
from storage.repositories import MemberView, Repositories

log = get_logger("lantern.rekey")

COORDINATOR, CANDIDATE, MEMBER = "coordinator", "candidate", "member"
MAX_SHARES = 16
MIN_THRESHOLD = 2  # as `lantern init` requires in shares mode


@dataclass(frozen=True)
class Seat:
    member_id: str
    handle: str


@dataclass
class Proposal:
    """A new set of coordinators and threshold, as every current coordinator was told."""

    proposer: str  # handle
    seats: tuple[Seat, ...]  # the new set: staying coordinators, then joining candidates
    joining: tuple[Seat, ...]
    leaving: tuple[Seat, ...]
    threshold: int  # new k
    needed: int  # current k: approvals needed
    epoch: int  # network epoch when proposed
    identifier: int  # current shares' identifier
    keys: Keyring | None = None
    expires_at: float = 0.0
    approvers: set[str] = field(default_factory=set)
    collector: ShareCollector | None = None
    collecting_since: float = 0.0

    @property
    def count(self) -> int:
        return len(self.seats)

    def forget(self) -> None:
        if self.collector is not None:
            self.collector.clear()
        self.collector = None
        self.approvers.clear()


@dataclass(frozen=True)
class _Recipient:
    account: str
    language: str
    timer_seconds: int


class Rekeyer:
    def __init__(
        self,
        *,
        db: Database,
        vault: Vault,
        settings: Settings,
        messenger: Messenger,
        quarantine: Quarantine | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._vault = vault
        self._settings = settings
        self._messenger = messenger
        self._quarantine = quarantine
        self._clock = clock
        self._proposal: Proposal | None = None
        self._leaving: set[str] = set()
        self._lock = asyncio.Lock()

    # --- used by handlers/rekey.py (memory only, inside the message's transaction) --------

    @property
    def proposal(self) -> Proposal | None:
        """The open proposal, unless it expired or the vault was sealed since."""
        found = self._proposal
        network = self._vault.network
        if found is not None and (
            self._clock() > found.expires_at
            or found.keys is None
            or found.keys is not self._vault.keys
            or network is None
            or network.epoch != found.epoch
        ):
            self._drop()
        return self._proposal

    def propose(self, proposal: Proposal) -> bool:
        """Open ``proposal``; False if one is open already (only one at a time)."""
        if self.proposal is not None or self._vault.keys is None:
            return False
        proposal.keys = self._vault.keys
        proposal.expires_at = self._clock() + self._settings.dialog_minutes * 60
        self._proposal = proposal
        log.info("rekey_proposed", count=proposal.count)
        return True

    def cancel(self) -> Proposal | None:
        found = self.proposal
        self._drop()
        return found

    def is_leaving(self, member_id: str) -> bool:
        return member_id in self._leaving

    def mark_leaving(self, member_id: str) -> None:
        """Removal at the next rekey; has no effect of its own."""
        self._leaving.add(member_id)

    def unmark(self, member_id: str) -> bool:
        if member_id not in self._leaving:
            return False
        self._leaving.discard(member_id)
        return True

    def forget(self) -> None:
        """Panic seal: drop any proposal and the approval words held for it."""
        self._drop()

    def _drop(self) -> None:
        if self._proposal is not None:
            self._proposal.forget()
        self._proposal = None

    # --- approve <words> (from the dispatcher, before any journaling) ---------------------

    async def approve(self, account: str, words: str) -> None:
        """One current coordinator's share words.  Every refusal reads the same."""
        async with self._lock:
            keys = self._vault.keys
            member = None if keys is None else await self._member(account, keys)
            if member is None or not member.is_coordinator or member.quarantined:
                await self._reject(account)
                return
            proposal = self.proposal
            if proposal is None:
                await self._say(account, member.language, _("rekey.nothing"))
                return
            if member.id in proposal.approvers:
                await self._say(account, member.language, _("rekey.already_approved"))
                return
            now = self._clock()
            window = self._settings.unseal_window_minutes * 60
            if proposal.collector is not None and now - proposal.collecting_since > window:
                proposal.forget()  # approvals too far apart: start counting again
            if proposal.collector is None:
                proposal.collector = ShareCollector(
                    identifier=proposal.identifier, threshold=proposal.needed
                )
                proposal.collecting_since = now
            try:
                count = proposal.collector.add(words)
            except ShareError:
                log.warning("approval_rejected")
                await self._reject(account)
                return
            proposal.approvers.add(member.id)
            log.info("approval_accepted", count=count)
            await self._say(
                account, member.language, _("rekey.accepted"), count=count, needed=proposal.needed
            )
            if proposal.collector.complete:
                try:
                    await self._complete(proposal)
                except Exception as exc:  # nothing was committed; say so, never the words
                    log.error("rekey_failed", error_type=type(exc).__name__)
                    await self._say(account, member.language, _("rekey.failed"))

    async def _member(self, account: str, keys: Keyring) -> MemberView | None:
        async with self._db.transaction() as session:
            return await Repositories(session, keys).members.by_account(account)

    # --- k approvals are in -----------------------------------------------------------

    async def _complete(self, proposal: Proposal) -> None:
        collector, keys = proposal.collector, proposal.keys
        self._proposal = None  # one attempt per proposal, whatever happens next
        assert collector is not None and keys is not None
        try:
            audience, seats = await self._recipients(proposal, keys)
            unseal_key = collector.combine()
            new_key, identifier, shares = self._vault.rekey(
                unseal_key, proposal.threshold, proposal.count
            )
        except _Stale as stale:
            log.warning("rekey_stale")
            await self._broadcast(stale.audience, _("rekey.failed"))
            return
        except ShareError:
            log.warning("rekey_rejected")
            await self._broadcast(audience, _("rekey.failed"))
            return
        finally:
            proposal.forget()
        texts = [
            Outgoing(
                seat.account,
                text=translate(
                    seat.language,
                    _("rekey.share"),
                    share=share,
                    threshold=proposal.threshold,
                    count=proposal.count,
                ),
                sensitive=True,
            )
            for seat, share in zip(seats, shares, strict=True)
        ]
        items: list[Outgoing] = []
        for seat, text in zip(seats, texts, strict=True):
            items += [
                Outgoing(seat.account, timer_seconds=self._settings.share_timer),
                text,
                Outgoing(seat.account, timer_seconds=seat.timer_seconds),
            ]
        # a changed safety number gets no share, and then nobody does (all or nothing)
        cleared = self._quarantine is None or await self._quarantine.screen(texts, keys) == texts
        report = await deliver(self._messenger, items) if cleared else None
        del shares, texts, items
        if report is None or report.failed:
            log.warning("rekey_delivery_failed", count=report.failed if report else 0)
            await self._broadcast(audience, _("rekey.failed_delivery"))
            return
        roles = {s.member_id: COORDINATOR for s in proposal.joining}
        roles |= {s.member_id: MEMBER for s in proposal.leaving}
        try:
            if self._vault.keys is not keys:
                raise ShareError  # sealed (panic) while the shares went out
            await self._vault.commit_rekey(
                unseal_key,
                new_key,
                identifier=identifier,
                threshold=proposal.threshold,
                count=proposal.count,
                epoch=proposal.epoch,
                roles=roles,
            )
        except Exception as exc:
            log.error("rekey_commit_failed", error_type=type(exc).__name__)
            await self._broadcast(audience, _("rekey.failed"))
            return
        finally:
            del unseal_key, new_key
        self._leaving -= {s.member_id for s in proposal.leaving}
        await self._broadcast(
            audience,
            _("rekey.done"),
            handles=handles(proposal.seats),
            threshold=proposal.threshold,
            count=proposal.count,
        )

    async def _recipients(
        self, proposal: Proposal, keys: Keyring
    ) -> tuple[list[_Recipient], list[_Recipient]]:
        """(everyone to tell: current coordinators and the new set; the new set, in seat
        order).  Raises :class:`_Stale` if the set changed since the proposal."""
        audience: dict[str, _Recipient] = {}
        seats: list[_Recipient] = []
        stale = False
        async with self._db.transaction() as session:
            members = Repositories(session, keys).members
            current = await members.with_role(COORDINATOR)
            for member in current:
                account = await members.account_of(member.id)
                if account is not None:
                    audience[member.id] = _Recipient(account, member.language, member.timer_seconds)
            expected = {s.member_id for s in proposal.seats if s not in proposal.joining}
            expected |= {s.member_id for s in proposal.leaving}
            stale = {m.id for m in current} != expected
            for seat in proposal.seats:
                found = await members.by_id(seat.member_id)
                role = CANDIDATE if seat in proposal.joining else COORDINATOR
                account = None if found is None else await members.account_of(found.id)
                if found is None or account is None or found.role != role or found.quarantined:
                    stale = True
                    continue
                recipient = _Recipient(account, found.language, found.timer_seconds)
                audience.setdefault(found.id, recipient)
                seats.append(recipient)
        if stale:
            raise _Stale(list(audience.values()))
        return list(audience.values()), seats

    # --- replies --------------------------------------------------------------------

    async def _broadcast(
        self, recipients: list[_Recipient], message_id: str, /, **values: object
    ) -> None:
        items = [
            Outgoing(r.account, text=translate(r.language, message_id, **values))
            for r in recipients
        ]
        await deliver(self._messenger, items)

    async def _say(self, account: str, language: str, message_id: str, /, **values: object) -> None:
        text = translate(language, message_id, **values)
        await deliver(self._messenger, [Outgoing(account, text=text)])

    async def _reject(self, account: str) -> None:
        """Sealed, stranger, member, quarantined coordinator or a bad share: one reply."""
        await self._say(account, self._settings.default_language, _("rekey.rejected"))


class _Stale(Exception):
    def __init__(self, audience: list[_Recipient]) -> None:
        super().__init__("the set of coordinators changed since the proposal")
        self.audience = audience


def handles(seats: tuple[Seat, ...] | list[Seat]) -> str:
    return ", ".join(s.handle for s in seats) or "-"
