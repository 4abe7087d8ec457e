"""Outbound side: the one place that turns :class:`~bot.context.Outgoing` into Signal calls.

Sends go one recipient per request (signalbot's ``send_multiple`` mishandles several
contacts, and per-recipient sends give per-recipient errors).  Failures are logged by
error type only — never the recipient or the text.

Texts and captcha answers go through :mod:`bot.signalapi` (signalbot 2.2 turns every
non-2xx into ``SendError`` and loses the body that says *why*); its typed errors —
:class:`RateLimited`, :class:`IdentityChanged`, :class:`RecipientFailed`,
:class:`Unavailable`, :class:`ChallengeRejected` — are what the outbox classifies.
Conversation timers still go through signalbot's contacts client; a 400 there is
classified by asking the identities endpoint whether that person's key is ``UNTRUSTED``.

Most messages go through the outbox (:mod:`bot.outbox`); :func:`deliver` is the direct
path for what must never be written down (unseal replies, share words) or cannot be
(a sealed bot's fixed replies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from signalbot import SignalBot, UpdateContact
from signalbot.errors import SignalAPIError

from bot.context import Outgoing
from bot.identities import Identity, IdentityError, TrustRejected
from bot.logging import get_logger
from bot.signalapi import (
    ChallengeRejected,
    IdentityChanged,
    RateLimited,
    RecipientFailed,
    SignalAPI,
    SignalSendError,
    Unavailable,
)

__all__ = [
    "ChallengeRejected",
    "DeliveryReport",
    "Identity",
    "IdentityChanged",
    "IdentityError",
    "Messenger",
    "RateLimited",
    "RecipientFailed",
    "SignalMessenger",
    "SignalSendError",
    "TrustRejected",
    "Unavailable",
    "deliver",
]

log = get_logger("lantern.messenger")

_BAD_REQUEST = 400


class Messenger(Protocol):
    async def send_text(self, account: str, text: str) -> int | None:
        """Send one text; Signal's timestamp of it (None if the transport has none)."""
        ...

    async def set_timer(self, account: str, seconds: int) -> None: ...

    async def identity(self, account: str) -> Identity | None: ...

    async def trust(self, account: str, safety_number: str) -> None: ...

    async def submit_challenge(self, token: str, captcha: str) -> None:
        """Answer Signal's rate-limit challenge; :class:`ChallengeRejected` if refused."""
        ...


class SignalMessenger:
    def __init__(self, bot: SignalBot, api: SignalAPI | None = None) -> None:
        self._bot = bot
        if api is None:
            made = SignalAPI.for_bot(bot)
            assert isinstance(made, SignalAPI)
            api = made
        self._api = api

    async def send_text(self, account: str, text: str) -> int | None:
        return await self._api.send(account, text)

    async def submit_challenge(self, token: str, captcha: str) -> None:
        await self._api.submit_challenge(token, captcha)

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
        return await self._api.identity(account)

    def forget_identities(self) -> None:
        """The next :meth:`identity` reads the list afresh (it is kept for a moment)."""
        self._api.forget_identities()

    async def trust(self, account: str, safety_number: str) -> None:
        """Trust exactly this safety number; :class:`TrustRejected` if it is not current."""
        await self._api.trust(account, safety_number)

    async def _raise_if_untrusted(self, account: str, exc: SignalAPIError) -> None:
        cause = exc.__cause__
        if not (isinstance(cause, aiohttp.ClientResponseError) and cause.status == _BAD_REQUEST):
            return
        self._api.forget_identities()  # the key may have changed a moment ago
        try:
            current = await self._api.identity(account)
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
