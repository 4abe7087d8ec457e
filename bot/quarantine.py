"""Changed safety numbers: quarantine, and screening need-to-know content.

A new phone, a SIM swap or a seized phone re-registered all look the same from here: the
person's Signal identity key changes.  Signalboost guarded admins this way; Lantern
guards everyone who can receive something sensitive:

* a send that fails because the identity is untrusted, or a safety number that differs
  from the one pinned at join (or at the last ``verify``), quarantines the member;
* while quarantined, sensitive items (invite codes, share words, later places and case
  details) are replaced by a short notice telling them to get verified in person;
* the organizers of their cells — the other coordinators, for a coordinator — are told
  by handle, and one of them sends ``verify <handle>`` after checking in person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.context import Outgoing
from bot.i18n import _, translate
from bot.logging import get_logger
from bot.messenger import Messenger, deliver
from security import Keyring
from storage.db import Database
from storage.members import MemberView
from storage.models import utcnow
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.outbox import Outbox

log = get_logger("lantern.quarantine")


class Quarantine:
    """``outbox``, once set, carries the notices to verifiers (written with the quarantine
    itself, then flushed); without it they are sent directly."""

    def __init__(self, db: Database, messenger: Messenger, default_language: str) -> None:
        self._db = db
        self._messenger = messenger
        self._language = default_language
        self.outbox: Outbox | None = None

    async def screen(self, items: list[Outgoing], keys: Keyring) -> list[Outgoing]:
        """Withhold sensitive items from anyone whose identity is not the verified one."""
        verdicts: dict[str, bool] = {}
        screened: list[Outgoing] = []
        notified: set[str] = set()
        for item in items:
            if not item.sensitive:
                screened.append(item)
                continue
            if item.account not in verdicts:
                verdicts[item.account] = await self.cleared(item.account, keys)
            if verdicts[item.account]:
                screened.append(item)
            elif item.account not in notified:
                notified.add(item.account)
                screened.append(
                    Outgoing(item.account, text=await self.withheld_text(item.account, keys))
                )
        return screened

    async def withheld_text(self, account: str, keys: Keyring) -> str:
        """The notice someone gets instead of need-to-know content, in their language."""
        async with self._db.transaction() as session:
            member = await Repositories(session, keys).members.by_account(account)
        language = member.language if member is not None else self._language
        return translate(language, _("quarantine.withheld"))

    async def cleared(self, account: str, keys: Keyring) -> bool:
        """May need-to-know content go to ``account`` now?  (Quarantines on a mismatch.)"""
        async with self._db.transaction() as session:
            repos = Repositories(session, keys)
            member = await repos.members.by_account(account)
            if member is None:
                return False
            if member.quarantined:
                return False
            pinned = await repos.members.identity_of(member.id)
        try:
            current = await self._messenger.identity(account)
        except Exception as exc:  # can't check: keep need-to-know content back
            log.warning("identity_check_failed", error_type=type(exc).__name__)
            return False
        if current is None:
            return pinned is None
        if pinned is None and current.trusted:
            await self.pin(account, keys, current.safety_number)
            return True
        if current.trusted and current.safety_number == pinned:
            return True
        await self.quarantine({account}, keys)
        return False

    async def pin(self, account: str, keys: Keyring, safety_number: str | None = None) -> None:
        """Remember the safety number a new member joined with (trust on first use)."""
        if safety_number is None:
            try:
                current = await self._messenger.identity(account)
            except Exception as exc:
                log.warning("identity_check_failed", error_type=type(exc).__name__)
                return
            if current is None or not current.trusted:
                return
            safety_number = current.safety_number
        async with self._db.transaction() as session:
            repos = Repositories(session, keys)
            member = await repos.members.by_account(account)
            if member is not None and await repos.members.identity_of(member.id) is None:
                await repos.members.set_identity(member.id, safety_number)

    async def quarantine(self, accounts: set[str], keys: Keyring) -> int:
        """Quarantine members among ``accounts``; tell who must verify them.  How many new."""
        items: list[Outgoing] = []
        ids: list[int] = []
        count = 0
        async with self._db.transaction() as session:
            repos = Repositories(session, keys)
            for account in accounts:
                member = await repos.members.by_account(account)
                if member is None or not await repos.members.quarantine(member.id, now=utcnow()):
                    continue
                count += 1
                for verifier in await _verifiers(repos, member):
                    to = await repos.members.account_of(verifier.id)
                    if to is not None:
                        text = translate(
                            verifier.language, _("quarantine.notice"), handle=member.handle
                        )
                        items.append(Outgoing(to, text=text))
            if self.outbox is not None:
                ids = await repos.outbox.enqueue(items, now=utcnow())
        if count:
            log.warning("quarantined", count=count)
        if self.outbox is not None:
            await self.outbox.flush(ids)
        else:
            await deliver(self._messenger, items)
        return count


async def _verifiers(repos: Repositories, member: MemberView) -> list[MemberView]:
    """Who may re-verify this member: their cells' organizers, or the other coordinators."""
    if member.is_coordinator:
        found = await repos.members.with_role("coordinator")
    else:
        found = []
        for cell, _role in await repos.cells.cells_of(member.id):
            for member_id in await repos.cells.member_ids(cell.id, role="organizer"):
                other = await repos.members.by_id(member_id)
                if other is not None:
                    found.append(other)
    unique = {m.id: m for m in found if m.id != member.id and not m.quarantined}
    if not unique and not member.is_coordinator:
        # the only organizer of their cells: the coordinators vouch instead
        coordinators = await repos.members.with_role("coordinator")
        unique = {m.id: m for m in coordinators if m.id != member.id and not m.quarantined}
    return list(unique.values())


async def may_verify(repos: Repositories, verifier: MemberView, target: MemberView) -> bool:
    if verifier.quarantined or verifier.id == target.id:
        return False
    return any(v.id == verifier.id for v in await _verifiers(repos, target))
