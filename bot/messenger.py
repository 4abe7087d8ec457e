"""Outbound side: the one place that turns :class:`~bot.context.Outgoing` into Signal calls.

Sends go one recipient per request (signalbot's ``send_multiple`` mishandles several
contacts, and per-recipient sends give per-recipient errors).  Failures are logged by
error type only — never the recipient or the text.
"""

from __future__ import annotations

from typing import Protocol

from signalbot import SendMessage, SignalBot, UpdateContact

from bot.context import Outgoing
from bot.logging import get_logger

log = get_logger("lantern.messenger")


class Messenger(Protocol):
    async def send_text(self, account: str, text: str) -> None: ...

    async def set_timer(self, account: str, seconds: int) -> None: ...


class SignalMessenger:
    def __init__(self, bot: SignalBot) -> None:
        self._bot = bot

    async def send_text(self, account: str, text: str) -> None:
        await self._bot.messages.send(SendMessage(text=text), account)

    async def set_timer(self, account: str, seconds: int) -> None:
        # signal-cli-rest-api: -1 switches the timer off, 0 would leave it unchanged
        await self._bot.contacts.update(
            UpdateContact(expiration_in_seconds=seconds if seconds > 0 else -1), account
        )


async def deliver(messenger: Messenger, items: list[Outgoing]) -> int:
    """Deliver in order; returns how many failed.  One failure does not stop the rest."""
    failed = 0
    for item in items:
        try:
            if item.timer_seconds is not None:
                await messenger.set_timer(item.account, item.timer_seconds)
            if item.text is not None:
                await messenger.send_text(item.account, item.text)
        except Exception as exc:  # any transport or API error: count, log type, go on
            failed += 1
            log.warning("delivery_failed", error_type=type(exc).__name__)
    return failed
