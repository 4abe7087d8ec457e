"""Inbound side: seal, journal, serialise per sender, one transaction, reply after commit.

For every direct text message:
1. ``unseal …`` is taken aside at once: its words go to the vault in memory and are
   never journaled or logged;
2. under the sender's lock (signalbot runs 3 consumers; one person's messages must be
   handled in order and never interleave their dialog state) and the per-sender rate
   limit, the message is written to the inbound journal *sealed to the backlog public
   key*, in its own short transaction (a duplicate envelope is dropped here when the
   bot holds keys);
3. a sealed bot answers the fixed "received" text and stops there; an unsealed one
   handles the message in one transaction that also turns the journal entry into a
   tombstone and writes the replies to the outbox, so the state change, "this message is
   done" and what to say about it commit together;
4. the replies are sent at once (:meth:`bot.outbox.Outbox.flush`; anything Signal holds
   back is sent later by the outbox's loop), then post-commit actions run (deal shares,
   seal).  A panic ``seal`` is the exception: its replies go directly after the keys,
   never written down.

Reactions (:meth:`Dispatcher.on_reaction`) take the same path: 👍 / 👎 on a delivered
call-out are handled as ``yes <ref>`` / ``no <ref>`` (:mod:`bot.reactions`), anything else
silently.

If handling fails, the transaction rolls back, the person is told nothing was changed
and to send it again, and only the exception *type* is logged.  Journaled messages not
yet handled (sealed backlog, a crash) are handled in order by :meth:`drain` after unseal
or start.

**The database going away** (restarting, unreachable, a connection cut mid-transaction:
:func:`storage.db.is_transient`) is not the message's fault and must not cost it:

* the journal write is retried for about ten seconds (:data:`JOURNAL_RETRY`) under the
  sender's lock; only if it never succeeds is the person told to send it again — nothing
  was recorded, so that is the truth;
* a journaled message whose handling fails that way stays in the journal (its
  transaction, claim included, rolled back).  After a few quick tries the dispatcher
  *stalls*: the person is told once that it waits in line and needs no resending, new
  messages are journaled and wait behind it, and a background loop drains the journal
  in arrival order (:meth:`drain`) as soon as the database answers again.  Nothing is
  handled twice: the claim and the tombstone commit with the handling or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from bot.config import Settings
from bot.context import REPLY, Context, Outgoing
from bot.i18n import _, translate
from bot.jobs import wake
from bot.languages import RecentLanguages
from bot.logging import get_logger
from bot.messenger import Messenger, deliver
from bot.outbox import Outbox
from bot.quarantine import Quarantine
from bot.ratelimit import RateLimiter
from bot.reactions import reaction_text
from bot.rekey import Rekeyer
from bot.router import Router, split_command
from bot.timers import Timers
from bot.vault import Progress, Vault
from security import Keyring
from storage.db import Database, is_transient
from storage.journal import JournalRepository
from storage.models import utcnow
from storage.outbox import OutboxItem, claimed_item
from storage.outbox import OutgoingLike as OutboxLike
from storage.repositories import Repositories

log = get_logger("lantern.dispatcher")

UNSEAL_WORDS = frozenset({"unseal", "desellar"})
APPROVE_WORDS = frozenset({"approve", "aprobar"})
PRUNE_EVERY = 200  # journal tombstones older than 48 h go, even on a bot that never restarts
JOURNAL_RETRY = (0.2, 0.5, 1.0, 2.0, 3.0, 4.0)  # ~11 s: a database restarting comes back
HANDLE_RETRY = (0.2, 0.5)  # then the message waits in the journal and the dispatcher stalls
REDRAIN_MAX_SECONDS = 5.0  # a stalled dispatcher tries the journal at least this often


class SenderLocks:
    """One asyncio.Lock per sender, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Dispatcher:
    def __init__(
        self,
        *,
        db: Database,
        vault: Vault,
        settings: Settings,
        router: Router,
        messenger: Messenger,
        clock: Callable[[], datetime] = utcnow,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.settings = settings
        self.router = router
        self.messenger = messenger
        self.clock = clock
        self.locks = SenderLocks()
        self.limiter = limiter or RateLimiter(
            per_minute=settings.rate_per_minute, burst=settings.rate_burst
        )
        self._draining = False
        self._handled = 0
        self._drain_lock = asyncio.Lock()
        self.stalled = False  # the database failed a handling: the journal leads
        self._told: set[int] = set()  # journal entries whose sender heard "it waits"
        self._kick = asyncio.Event()
        self._redrain: asyncio.Task[None] | None = None
        self.languages = RecentLanguages()  # for notices sent when the database fails
        vault.on_seal(self.languages.forget)
        self.quarantine = Quarantine(db, messenger, settings.default_language)
        self.rekeyer = Rekeyer(
            db=db, vault=vault, settings=settings, messenger=messenger, quarantine=self.quarantine
        )
        self.timers = Timers(self)
        self.outbox = Outbox(
            db=db,
            vault=vault,
            settings=settings,
            messenger=messenger,
            quarantine=self.quarantine,
            clock=lambda: self.clock(),  # late-bound: tests move the dispatcher's clock
        )
        self.quarantine.outbox = self.outbox

    async def on_text(self, account: str, signal_timestamp: int, text: str) -> None:
        word, rest = split_command(text)
        if not self.limiter.allow(account):
            log.info("rate_limited")
            return
        if word in UNSEAL_WORDS:
            await self._unseal(account, rest)
            return
        if word in APPROVE_WORDS:
            await self._approve(account, rest)
            return
        await self._inbound(account, signal_timestamp, "text", {"text": text})

    async def on_reaction(
        self,
        account: str,
        target_timestamp: int,
        emoji: str | None,
        is_remove: bool,
        received_timestamp: int,
    ) -> None:
        """A reaction to one of the bot's messages: 👍 / 👎 on a call-out answer it.

        Same limit, lock, sealed journal and order as texts.  Journaled under the negated
        received timestamp, so a reaction can never be taken for a text with the same
        timestamp (the journal's duplicate check is per account and timestamp).
        """
        if not self.limiter.allow(account):
            log.info("rate_limited")
            return
        body = {"target": target_timestamp, "emoji": emoji or "", "remove": is_remove}
        await self._inbound(account, -abs(received_timestamp), "reaction", body)

    async def _inbound(
        self, account: str, signal_timestamp: int, kind: str, body: dict[str, object]
    ) -> None:
        async with self.locks.hold(account):
            keys = self.vault.keys
            try:
                entry_id = await self._journal(account, signal_timestamp, kind, body, keys)
            except Exception as exc:
                log.error("journal_failed", error_type=type(exc).__name__)
                if kind == "text":
                    language = self.languages.get(account, keys)
                    await self._apologise(
                        account, _("error.unavailable"), language=language, timer=True
                    )
                return
            if entry_id is None:
                log.info("duplicate_dropped", kind=kind)
                return
            if keys is None:
                if kind == "text":  # a reaction is no request: it waits silently
                    await self._apologise(account, _("sealed.received"), timer=True)
                return
            if self._draining:
                return  # the drain loop handles it, after everything older
            if self.stalled:
                self._kick.set()  # the database answered: the journal goes, in order
                return
            if not await self._handle_patiently(entry_id, account, kind, body, keys):
                await self._stall(entry_id, account)

    async def _journal(
        self,
        account: str,
        signal_timestamp: int,
        kind: str,
        body: dict[str, object],
        keys: Keyring | None,
    ) -> int | None:
        """Write the message down, waiting out a database that is restarting."""
        for delay in (*JOURNAL_RETRY, None):
            try:
                async with self.db.transaction() as session:
                    return await JournalRepository(session, self.vault.sealer, keys).record(
                        account, signal_timestamp, kind, body
                    )
            except Exception as exc:
                if delay is None or not is_transient(exc):
                    raise
                log.warning("journal_retry", error_type=type(exc).__name__)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _handle_patiently(
        self, entry_id: int, account: str, kind: str, body: dict[str, object], keys: Keyring
    ) -> bool:
        """Handle, trying again a moment later if the database failed; False: it still
        fails and the message is still in the journal."""
        for delay in HANDLE_RETRY:
            if await self._handle(entry_id, account, kind, body, keys):
                return True
            await asyncio.sleep(delay)
        return await self._handle(entry_id, account, kind, body, keys)

    async def _stall(self, entry_id: int | None = None, account: str = "") -> None:
        """The database fails: the journal leads until it is drained.  The sender hears
        once that the message waits (in the language they were last answered in, if they
        wrote since the unseal: theirs is in the database that failed); the loop drains as
        soon as the database answers."""
        self.stalled = True
        if entry_id is not None and entry_id not in self._told:
            self._told.add(entry_id)
            language = self.languages.get(account, self.vault.keys)
            await self._apologise(account, _("error.delayed"), language=language)
        if self._redrain is None or self._redrain.done():
            log.warning("dispatcher_stalled")
            self._redrain = asyncio.create_task(self._redrain_loop())

    async def _redrain_loop(self) -> None:
        delay = HANDLE_RETRY[-1]
        while self.stalled and self.vault.keys is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), delay)
            self._kick.clear()
            delay = min(delay * 2, REDRAIN_MAX_SECONDS)
            try:
                await self.drain()
            except Exception as exc:
                log.warning("redrain_failed", error_type=type(exc).__name__)
        if not self.stalled:
            log.info("dispatcher_resumed")

    async def close(self) -> None:
        """Stop the background drain (a stop with the database down)."""
        if self._redrain is not None:
            self._redrain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._redrain
            self._redrain = None

    # --- unseal ----------------------------------------------------------------------

    async def _unseal(self, account: str, words: str) -> None:
        network = self.vault.network
        if network is not None and network.mode == "passphrase":
            result = await self.vault.submit_passphrase(words)
        else:
            result = await self.vault.submit_share(words)
        if result.progress is Progress.ACCEPTED:
            await self._apologise(
                account, _("unseal.accepted"), timer=True, count=result.count, needed=result.needed
            )
        elif result.progress is Progress.REJECTED:
            await self._apologise(account, _("unseal.rejected"), timer=True)
        elif result.progress is Progress.ALREADY:
            await self._apologise(account, _("unseal.already"), timer=True)
        else:
            await self._apologise(account, _("unseal.done"), timer=True)
            handled = await self.drain()
            self.outbox.wake()  # what waited for keys goes now
            await self._tell_coordinators(_("unseal.announce"), count=handled)

    async def _approve(self, account: str, words: str) -> None:
        """A rekey approval: share words, like ``unseal`` never journaled or logged."""
        await self.rekeyer.approve(account, words)

    # --- backlog ---------------------------------------------------------------------

    async def drain(self) -> int:
        """Handle every journaled, unhandled message in arrival order; how many."""
        handled = 0
        async with self._drain_lock:
            self._draining = True
            try:
                handled += await self._drain_pass()
            finally:
                self._draining = False
            handled += await self._drain_pass()  # anything journaled while we flipped
        if handled:
            log.info("backlog_handled", count=handled)
        return handled

    async def _drain_pass(self) -> int:
        """Handle the journal in order.  A database failure stops the pass where it is (a
        later message must not overtake the one that failed) and leaves the dispatcher
        stalled; a pass that empties the journal ends the stall."""
        handled = 0
        while (keys := self.vault.keys) is not None:
            try:
                async with self.db.transaction() as session:
                    journal = Repositories(session, keys).journal
                    await journal.prune(now=self.clock())
                    pending = await journal.pending()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("drain_deferred", error_type=type(exc).__name__)
                await self._stall()
                return handled
            if not pending:
                self.stalled = False
                self._told.clear()
                break
            for entry in pending:
                async with self.locks.hold(entry.account):
                    done = await self._handle(entry.id, entry.account, entry.kind, entry.body, keys)
                if not done:
                    await self._stall(entry.id, entry.account)
                    return handled
                handled += 1
        return handled

    replay_pending = drain

    # --- handling --------------------------------------------------------------------

    async def _handle(
        self, entry_id: int, account: str, kind: str, body: dict[str, object], keys: Keyring
    ) -> bool:
        """Handle one journaled message; False only when the database failed (the entry
        is untouched, still pending): anything else ends with the message done."""
        language = self.settings.default_language
        command = ""
        direct: list[Outgoing] = []
        ids: list[int] = []
        claimed: list[OutboxItem] = []
        actions: list[str] = []
        wakes: list[tuple[str, datetime]] = []
        try:
            async with self.db.transaction() as session:
                repos = Repositories(session, keys)
                if not await repos.journal.claim(entry_id):
                    return True  # handled meanwhile (drain and live path met)
                now = self.clock()
                text = str(body.get("text", ""))
                if kind == "reaction":
                    found = await reaction_text(repos, account, body)
                    if found is None:  # not an answer: nothing to say
                        await repos.journal.done(entry_id)
                        return True
                    text = found
                member = await repos.members.by_account(account)
                ctx = Context(
                    sender=account,
                    text=text,
                    settings=self.settings,
                    repos=repos,
                    now=now,
                    router=self.router,
                    member=member,
                    # a reaction answers a call-out, never the question of a dialog
                    dialog=None
                    if kind == "reaction"
                    else await repos.dialogs.get(account, now=now),
                    network=self.vault.network,
                    is_organizer=member is not None and await repos.cells.organizes_any(member.id),
                    identities=self.messenger,
                    rekey=self.rekeyer,
                )
                language = ctx.language
                await self.router.dispatch(ctx)
                language = ctx.language  # LANG may have just changed it
                command = ctx.command if self.router.lookup(ctx.command) else ""
                await repos.journal.done(entry_id)
                outgoing = self._with_timer(ctx)
                actions = ctx.actions
                wakes = ctx.wakes
                if "seal" in actions:
                    direct = outgoing  # the keys go before these are sent: not written down
                else:
                    ids, claimed = await self._enqueue(repos, outgoing, now)
        except Exception as exc:
            # a commit whose answer was lost may have committed these: the outbox's
            # sweep finds them 'sending' with nobody sending them, and queues them again
            self.outbox.release([item.id for item in claimed])
            if is_transient(exc):
                log.warning("handler_deferred", command=command, error_type=type(exc).__name__)
                return False
            log.error("handler_failed", command=command, error_type=type(exc).__name__)
            await self._forget(entry_id, keys)
            await self._apologise(account, _("error.internal"), language=language)
            return True
        log.info("handled", command=command or "-", count=len(direct) + len(ids) + len(claimed))
        self.languages.remember(account, language, keys)
        if "seal" in actions:
            self.vault.seal()  # panic: before the replies go out, not after
            self.rekeyer.forget()  # approvals held for a rekey go too
            await deliver(self.messenger, [i for i in direct if not i.sensitive])
        for key, when in wakes:  # committed: a tick now sees what it is woken for
            wake(key, when)
        await self.outbox.send_claimed(claimed)
        await self.outbox.flush(ids)
        await self._after(actions, account, keys)
        self._handled += 1  # housekeeping after the replies: nobody waits for it
        if self._handled % PRUNE_EVERY == 0 and not self.vault.sealed:
            await self._prune(keys)
        return True

    async def _enqueue(
        self, repos: Repositories, outgoing: list[Outgoing], now: datetime
    ) -> tuple[list[int], list[OutboxItem]]:
        """Write the replies down.  When everything to send is plain replies (the common
        case) and Signal lets replies go, they are claimed in this same transaction and
        sent straight after commit; anything else (need-to-know text, notices to others)
        takes the flush, all of it, so messages still go in the order they were made.
        Returns (rows for the flush, claimed rows)."""

        def plain(item: OutboxLike) -> bool:
            return item.priority == REPLY and not item.sensitive

        fast = bool(outgoing) and all(plain(item) for item in outgoing)
        if fast:
            fast = self.outbox.replies_may_go(await repos.outbox.standing(), now)
        ids = await repos.outbox.enqueue(
            outgoing, now=now, claim=(lambda _i: True) if fast else None
        )
        if not fast:
            return ids, []
        self.outbox.hold(ids)  # before commit: the outbox's sweep never takes them for lost
        return [], [claimed_item(i, o) for i, o in zip(ids, outgoing, strict=True)]

    async def deliver_items(self, items: list[Outgoing], keys: Keyring) -> None:
        """For callers outside a handler: write ``items`` to the outbox, then send."""
        if self.vault.sealed:
            await deliver(self.messenger, [i for i in items if not i.sensitive])
            return
        async with self.db.transaction() as session:
            ids = await Repositories(session, keys).outbox.enqueue(items, now=self.clock())
        await self.outbox.flush(ids)

    async def _after(self, actions: list[str], account: str, keys: Keyring) -> None:
        if self.vault.sealed:
            return
        for action in actions:
            if action == "pin_identity":
                await self.quarantine.pin(account, keys)
            elif action == "seal":
                self.vault.seal()
            elif action == "activate":
                await self.vault.activate()
            elif action == "resume":
                self.outbox.wake()
        if "deal" in actions or self.vault.ready_to_deal():
            await self.deal()

    async def deal(self) -> bool:
        """Send each enrolled coordinator their share; True once all n have theirs.

        Shares go out before anything is committed: if any delivery fails, the network
        stays in enrollment (the unseal key still only in memory) and the next message
        from anyone tries again with a fresh split, so half-delivered shares are useless.
        """
        vault, keys, network = self.vault, self.vault.keys, self.vault.network
        if not vault.ready_to_deal() or keys is None or network is None:
            return False
        async with self.db.transaction() as session:
            repos = Repositories(session, keys)
            coordinators = await repos.members.with_role("coordinator")
            if len(coordinators) < network.share_count:
                return False
            accounts = [await repos.members.account_of(c.id) for c in coordinators]
        identifier, shares = vault.split()
        items: list[Outgoing] = []
        for coordinator, account, share in zip(coordinators, accounts, shares, strict=True):
            assert account is not None
            text = translate(
                coordinator.language,
                _("enroll.share"),
                share=share,
                threshold=network.threshold,
                count=network.share_count,
            )
            items += [
                Outgoing(account, timer_seconds=self.settings.share_timer),
                Outgoing(account, text=text),
                Outgoing(account, timer_seconds=coordinator.timer_seconds),
            ]
        report = await deliver(self.messenger, items)
        if report.failed:
            log.warning("deal_incomplete", count=report.failed)
            await vault.reroll()  # the shares that did go out must open nothing
            return False
        await vault.dealt(identifier)
        await self._tell_coordinators(
            _("enroll.complete"), threshold=network.threshold, count=network.share_count
        )
        return True

    async def _tell_coordinators(self, message_id: str, /, **values: object) -> None:
        keys = self.vault.keys
        if keys is None:
            return
        items: list[Outgoing] = []
        async with self.db.transaction() as session:
            repos = Repositories(session, keys)
            for coordinator in await repos.members.with_role("coordinator"):
                account = await repos.members.account_of(coordinator.id)
                if account is not None:
                    text = translate(coordinator.language, message_id, **values)
                    items.append(Outgoing(account, text=text))
            ids = await repos.outbox.enqueue(items, now=self.clock())
        await self.outbox.flush(ids)

    def _with_timer(self, ctx: Context) -> list[Outgoing]:
        """Nothing is stored about non-members, so their timer is set with every reply.

        That keeps every conversation disappearing from the first message on, and keeps
        replies to all outsiders (never joined, left, removed) identical.
        """
        if ctx.member is not None or any(
            o.timer_seconds is not None for o in ctx.outgoing if o.account == ctx.sender
        ):
            return ctx.outgoing
        timer = Outgoing(ctx.sender, timer_seconds=self.settings.disappearing_timer)
        return [timer, *ctx.outgoing]

    async def _prune(self, keys: Keyring) -> None:
        try:
            async with self.db.transaction() as session:
                await Repositories(session, keys).journal.prune(now=self.clock())
        except Exception as exc:
            log.error("journal_prune_failed", error_type=type(exc).__name__)

    async def _forget(self, entry_id: int, keys: Keyring) -> None:
        """A message that crashed its handler must not crash every restart after it."""
        try:
            async with self.db.transaction() as session:
                await Repositories(session, keys).journal.done(entry_id)
        except Exception as exc:
            log.error("journal_cleanup_failed", error_type=type(exc).__name__)

    async def _apologise(
        self,
        account: str,
        message_id: str,
        /,
        language: str | None = None,
        timer: bool = False,
        **values: object,
    ) -> None:
        """A reply sent without looking anyone up.  With ``timer`` it also sets the default
        disappearing timer: a sealed bot cannot tell members from strangers, so everyone
        gets the same two items (members' timers are the default too)."""
        text = translate(language or self.settings.default_language, message_id, **values)
        items = [Outgoing(account, text=text)]
        if timer:
            items.insert(0, Outgoing(account, timer_seconds=self.settings.disappearing_timer))
        await deliver(self.messenger, items)
