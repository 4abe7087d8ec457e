"""Outbound side: the one place that turns :class:`~bot.context.Outgoing` into Signal calls.

Sends go one recipient per request (signalbot's ``send_multiple`` mishandles several
contacts, and per-recipient sends give per-recipient errors).  Failures are logged by
error type only — never the recipient or the text.

Changed safety numbers: signal-cli-rest-api 0.101 answers a single-recipient ``/v2/send``
whose recipient's key is untrusted with 400 ``{"error": "Unable to complete request due
to untrusted recipient keys"}``.  signalbot 2.2.1 turns every non-2xx into
``signalbot.messages.SendError`` (``UpdateContactError`` for contacts) chained from
aiohttp's ``ClientResponseError``, which holds the status but not the body.  So a 400 is
classified by asking the identities endpoint whether that person's key is ``UNTRUSTED``;
if so the send raises :class:`IdentityChanged`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from signalbot import SendMessage, SignalBot, UpdateContact
from signalbot.errors import SignalAPIError

from bot.context import Outgoing
from bot.identities import Identity, IdentityClient, IdentityError, TrustRejected
from bot.logging import get_logger

__all__ = [
    "DeliveryReport",
    "Identity",
    "IdentityChanged",
    "IdentityError",
    "Messenger",
    "SignalMessenger",
    "TrustRejected",
    "deliver",
]

log = get_logger("lantern.messenger")

_BAD_REQUEST = 400


class IdentityChanged(Exception):
    """The recipient's safety number changed and is not trusted: nothing was delivered.

    Carries no account or text; the caller knows whom it was sending to.
    """

    def __init__(self) -> None:
        super().__init__("recipient's identity key changed and is untrusted")


class Messenger(Protocol):
    async def send_text(self, account: str, text: str) -> None: ...

    async def set_timer(self, account: str, seconds: int) -> None: ...

    async def identity(self, account: str) -> Identity | None: ...

    async def trust(self, account: str, safety_number: str) -> None: ...


class SignalMessenger:
    def __init__(self, bot: SignalBot, identities: IdentityClient | None = None) -> None:
        self._bot = bot
        self._identities = identities or IdentityClient.for_bot(bot)

    async def send_text(self, account: str, text: str) -> None:
        try:
            await self._bot.messages.send(SendMessage(text=text), account)
        except SignalAPIError as exc:
            await self._raise_if_untrusted(account, exc)
            raise

    async def set_timer(self, account: str, seconds: int) -> None:
        # signal-cli-rest-api: -1 switches the timer off, 0 would leave it unchanged
        try:
            await self._bot.contacts.update(
                UpdateContact(expiration_in_seconds=seconds if seconds > 0 else -1), account
            )
        except SignalAPIError as exc:
            await self._raise_if_untrusted(account, exc)
            raise

    async def identity(self, account: str) -> Identity | None:
        """The person's current key; raises :class:`IdentityError` if the API fails."""
        return await self._identities.identity(account)

    async def trust(self, account: str, safety_number: str) -> None:
        """Trust exactly this safety number; :class:`TrustRejected` if it is not current."""
        await self._identities.trust(account, safety_number)

    async def _raise_if_untrusted(self, account: str, exc: SignalAPIError) -> None:
        cause = exc.__cause__
        if not (isinstance(cause, aiohttp.ClientResponseError) and cause.status == _BAD_REQUEST):
            return
        try:
            current = await self._identities.identity(account)
        except (IdentityError, ValueError) as lookup_error:
            log.warning("identity_lookup_failed", error_type=type(lookup_error).__name__)
            return
        if current is not None and not current.trusted:
            raise IdentityChanged() from exc


@dataclass
class DeliveryReport:
    """What :func:`deliver` could not do; ``identity_changed`` names whom to quarantine."""

    failed: int = 0
    identity_changed: set[str] = field(default_factory=set)


async def deliver(messenger: Messenger, items: list[Outgoing]) -> DeliveryReport:
    """Deliver in order.  One failure does not stop the rest.

    After :class:`IdentityChanged` the remaining items for that account are skipped and
    counted as failed: they would fail the same way until someone re-trusts the key.
    """
    report = DeliveryReport()
    for item in items:
        if item.account in report.identity_changed:
            report.failed += 1
            continue
        try:
            if item.timer_seconds is not None:
                await messenger.set_timer(item.account, item.timer_seconds)
            if item.text is not None:
                await messenger.send_text(item.account, item.text)
        except IdentityChanged as exc:
            report.failed += 1
            report.identity_changed.add(item.account)
            log.warning("delivery_failed", error_type=type(exc).__name__)
        except Exception as exc:  # any transport or API error: count, log type, go on
            report.failed += 1
            log.warning("delivery_failed", error_type=type(exc).__name__)
    return report
