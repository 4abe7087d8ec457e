"""Composition root: builds config, database, keys, router and the signalbot client.

Nothing happens at import time, so tests build one :class:`LanternApp` per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from signalbot import (
    DataMessageContext,
    DataMessageHandler,
    ReactionContext,
    ReactionHandler,
    SignalBot,
)

from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.jobs import Jobs
from bot.keyjobs import KeyMaintenance
from bot.logging import get_logger
from bot.messenger import Messenger, SignalMessenger
from bot.roles import file_catalogue
from bot.vault import Vault
from handlers import build_router
from security.hardening import disable_core_dumps
from storage.db import Database
from storage.migrate import current_revision, head_revision

log = get_logger("lantern.app")


class NotMigratedError(RuntimeError):
    """The database is not at the latest migration; ``lantern migrate`` fixes it."""


class EntryHandler(DataMessageHandler):
    """The only data-message handler registered on signalbot; routing is ours."""

    def __init__(self, dispatcher: Dispatcher, bot_number: str) -> None:
        self._dispatcher = dispatcher
        self._bot_number = bot_number

    async def handle_data_message(self, context: DataMessageContext) -> None:
        message = context.message
        # No await before on_text takes the sender's lock: that keeps one person's
        # messages in the order signalbot queued them, across its 3 consumers.
        if message.source_uuid is None or message.source_number == self._bot_number:
            return  # our own linked devices' sync messages, or no account to key by
        await self._dispatcher.on_text(message.source_uuid, message.timestamp, message.text or "")


class ReactionEntryHandler(ReactionHandler):
    """Reactions to the bot's messages: the dispatcher reads 👍 / 👎 on a call-out as an
    answer.  ``Reaction.timestamp`` is the *target* message's; the reaction's own is the
    server's receive time."""

    def __init__(self, dispatcher: Dispatcher, bot_number: str) -> None:
        self._dispatcher = dispatcher
        self._bot_number = bot_number

    async def handle_reaction(self, context: ReactionContext) -> None:
        reaction = context.message
        if reaction.source_uuid is None or reaction.source_number == self._bot_number:
            return
        if reaction.is_group():
            return  # call-outs go by direct message; group reactions answer nothing
        await self._dispatcher.on_reaction(
            reaction.source_uuid,
            reaction.timestamp,
            reaction.emoji,
            reaction.is_remove,
            reaction.server_received_timestamp,
        )


@dataclass
class _Running:
    bot: SignalBot
    dispatcher: Dispatcher
    watchdog: asyncio.Task[None] | None = None
    jobs: Jobs | None = None


RECEIVER_CHECK_SECONDS = 5.0
LISTEN_RETRY_FIRST = 0.5  # seconds before the first reconnect; doubling up to the check


def _keep_listening(bot: SignalBot, ceiling: float) -> None:
    """Make signalbot's receiver reconnect within ``ceiling`` seconds, however often the
    service flapped.

    signalbot 2.2 restarts a failed receiver after a delay that doubles up to five minutes
    and only resets after three minutes without a failure: the fault drill measured a bot
    deaf for 2, 6, then 14 s after three short outages in a row, on its way to minutes.
    Texts sent to the bot while it is not listening are lost (signal-cli-rest-api keeps
    nothing for an absent websocket client), so deaf time is lost messages.  This wraps
    the receiver so it never fails upward: it retries itself, from half a second up to
    ``ceiling``, starting afresh after a connection that lasted, and logs only the error
    type (a receive error's text may hold the service URL with the bot's number).  A
    clean close (code 1000, upstream restarting), after which signalbot would never
    listen again, is retried the same way.
    """
    pipeline = bot._pipeline  # signalbot has no public hook for its receiver
    receive = pipeline._produce

    async def produce(name: int) -> None:
        delay = LISTEN_RETRY_FIRST
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                await receive(name)
                problem = "closed"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any receive failure: listen again
                problem = type(exc).__name__
            if loop.time() - began > ceiling:
                delay = LISTEN_RETRY_FIRST  # it was connected: a fresh outage
            log.warning("receiver_lost", error_type=problem, duration_ms=round(delay * 1000))
            await asyncio.sleep(delay)
            delay = min(delay * 2, ceiling)

    pipeline._produce = produce  # type: ignore[method-assign]


async def _watch_receiver(bot: SignalBot, interval: float) -> None:
    """Restart signalbot's pipeline if its receiver task ended anyway (belt and braces:
    :func:`_keep_listening`'s loop does not end but by cancellation)."""
    pipeline = bot._pipeline
    while True:
        await asyncio.sleep(interval)
        producers = pipeline._produce_tasks
        if not producers or all(task.done() for task in producers):
            log.warning("receiver_restarted")
            await pipeline.start()


class LanternApp:
    def __init__(
        self,
        settings: Settings,
        *,
        receiver_check_seconds: float = RECEIVER_CHECK_SECONDS,
    ) -> None:
        self.settings = settings
        file_catalogue(settings.roles_file)  # a broken roles file stops the start, with why
        self.receiver_check_seconds = receiver_check_seconds
        self.db = Database(settings.effective_database_url)
        self.vault = Vault(self.db, unseal_window_seconds=settings.unseal_window_minutes * 60)
        self.router = build_router()
        self.key_maintenance = KeyMaintenance()
        self._running: _Running | None = None

    @property
    def dispatcher(self) -> Dispatcher:
        if self._running is None:
            raise RuntimeError("app not started")
        return self._running.dispatcher

    def make_dispatcher(self, messenger: Messenger) -> Dispatcher:
        """A dispatcher without signalbot, for tests that drive handlers directly."""
        return Dispatcher(
            db=self.db,
            vault=self.vault,
            settings=self.settings,
            router=self.router,
            messenger=messenger,
        )

    def _signalbot_config(self) -> dict[str, Any]:
        return {
            "phone_number": self.settings.bot_number,
            "signal_service": self.settings.signal_service,
            "connection_mode": self.settings.signal_connection,
            "storage": {"type": "in-memory"},  # signalbot's store is plaintext: unused
            "download_attachments": False,
            "logging_level": logging.WARNING,
        }

    async def check_migrated(self) -> None:
        current = await asyncio.to_thread(current_revision, self.db.url)
        if current != head_revision():
            raise NotMigratedError(
                f"database is at revision {current or 'none'}, code needs {head_revision()}: "
                "run `lantern migrate` first"
            )

    async def open_vault(self) -> None:
        """Load the network: sealed if it is active, open for enrollment if it is new."""
        await self.check_migrated()
        await self.vault.start()

    async def start(self) -> None:
        """Connect to signal-cli-rest-api; sealed until k coordinators unseal."""
        self.settings.require_bot_number()
        disable_core_dumps()
        await self.open_vault()
        self.key_maintenance.start(self.db, self.vault)
        bot = SignalBot(self._signalbot_config())
        _rehome_signalbot_logger()
        dispatcher = self.make_dispatcher(SignalMessenger(bot))
        await dispatcher.outbox.recover()  # rows a crash left mid-send go back in the queue
        bot.register(EntryHandler(dispatcher, self.settings.bot_number), groups=False)
        bot.register(ReactionEntryHandler(dispatcher, self.settings.bot_number), groups=False)
        self._running = _Running(bot, dispatcher)
        _keep_listening(bot, self.receiver_check_seconds)
        bot.start(run_forever=False)
        await bot.wait_until_ready()
        self._running.watchdog = asyncio.create_task(
            _watch_receiver(bot, self.receiver_check_seconds)
        )
        await dispatcher.drain()
        # deadlines: APScheduler (signalbot's own) wakes the sweep, rebuilt from the database
        self._running.jobs = Jobs(
            self.db, self.settings, dispatcher.timers.tick, scheduler=bot.scheduler
        )
        await self._running.jobs.start()
        dispatcher.outbox.start()
        log.info("started", backend=self.db.engine.dialect.name, sealed=self.vault.sealed)

    async def stop(self) -> None:
        """Stop without stopping the event loop (``SignalBot.stop`` would)."""
        await self.key_maintenance.stop()
        if self._running is not None:
            if self._running.jobs is not None:
                await self._running.jobs.stop()
            bot = self._running.bot
            if self._running.watchdog is not None:
                self._running.watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._running.watchdog
            if bot.init_task is not None and not bot.init_task.done():
                bot.init_task.cancel()
            await self._running.dispatcher.close()
            outbox = self._running.dispatcher.outbox
            await outbox.stop()  # the message in hand is sent and marked, never split
            await bot._pipeline.stop()
            await outbox.settle()  # replies a stopped handler was sending: finished too
            await bot.close()
            self._running = None
        self.vault.seal()
        await self.db.dispose()


def _rehome_signalbot_logger() -> None:
    """signalbot adds its own stderr handler; route its records through ours (scrubbed)."""
    logger = logging.getLogger("signalbot")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(max(logging.WARNING, logging.getLogger().level))
