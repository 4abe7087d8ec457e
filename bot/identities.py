"""Signal identity keys, read and trusted over signal-cli-rest-api's identities routes.

signalbot 2.2.1 has no client for ``GET /v1/identities/{number}`` or
``PUT /v1/identities/{number}/trust/{numberToTrust}``, so this is a small aiohttp client
that builds URLs the way signalbot does (``http(s)://{signal_service}{path}``, the scheme
chosen by the same connection mode, the same auth header).

Upstream (signal-cli-rest-api 0.101, api.go ListIdentities/TrustIdentity, client.go):
the list answers 200 with ``[{number, status, fingerprint, added, safety_number, uuid}]``
(``number`` is ``""`` for people hiding their number; ``status`` is signal-cli's trust
level ``TRUSTED_UNVERIFIED`` / ``TRUSTED_VERIFIED`` / ``UNTRUSTED``), 500 on errors. The
trust call answers 204, or 400 ``{"error": ...}`` when signal-cli refuses, e.g. because
the safety number is not the one of the person's *current* key.

Nothing personal reaches exception messages: only HTTP statuses.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from signalbot import SignalBot
from signalbot.auth import BasicAuthentication, BearerAuthentication
from signalbot.bot_config import BasicAuthConfig, BearerAuthConfig

UNTRUSTED = "UNTRUSTED"
LIST_SECONDS = 2.0  # how long one read of the identity list answers for
_HEALTHY = 204
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class Identity:
    """A person's current identity key as the bot's signal-cli knows it."""

    fingerprint: str
    safety_number: str
    trusted: bool  # False when signal-cli marks the key UNTRUSTED (sends to it fail)


class IdentityError(Exception):
    """The identities API could not be used. ``status`` is None for transport errors."""

    def __init__(self, status: int | None = None) -> None:
        detail = "no response" if status is None else f"HTTP {status}"
        super().__init__(f"identities request failed ({detail})")
        self.status = status


class TrustRejected(IdentityError):
    """signal-cli refused to trust: the safety number is not the current key's (400)."""


def _checked_account(account: str) -> str:
    """Accounts go into URL paths: only a UUID or an E.164 number is accepted."""
    if not (_UUID.match(account) or _NUMBER.match(account)):
        raise ValueError("account must be a Signal UUID or an E.164 number")
    return account


class IdentityClient:
    """The bot account's identity list and trust decisions."""

    def __init__(
        self,
        signal_service: str,
        bot_number: str,
        *,
        connection_mode: str = "http_only",
        auth_header: str | None = None,
        timeout_seconds: float = 30.0,
        list_seconds: float = LIST_SECONDS,
    ) -> None:
        if connection_mode not in ("http_only", "https_only", "auto"):
            raise ValueError("connection_mode must be http_only, https_only or auto")
        self._service = signal_service
        self._bot_number = bot_number
        self._mode = connection_mode
        self._scheme: str | None = {"http_only": "http", "https_only": "https"}.get(connection_mode)
        self._headers = {"Authorization": auth_header} if auth_header else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._list_seconds = list_seconds
        self._list: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._list_lock = asyncio.Lock()

    @classmethod
    def for_bot(cls, bot: SignalBot) -> IdentityClient:
        """Same service, scheme rule and credentials as signalbot's own client."""
        config = bot.config
        auth: BasicAuthentication | BearerAuthentication | None = None
        if isinstance(config.auth, BasicAuthConfig):
            auth = BasicAuthentication(config.auth.username, config.auth.password)
        elif isinstance(config.auth, BearerAuthConfig):
            auth = BearerAuthentication(config.auth.token)
        return cls(
            config.signal_service,
            config.phone_number,
            connection_mode=str(config.connection_mode),
            auth_header=auth.header if auth else None,
        )

    async def identity(self, account: str) -> Identity | None:
        """The current key of ``account`` (UUID or number), or None if signal-cli has none."""
        _checked_account(account)
        latest = (await self._identities()).get(account.lower())
        if latest is None:
            return None
        return Identity(
            fingerprint=str(latest.get("fingerprint", "")),
            safety_number=str(latest.get("safety_number", "")),
            trusted=latest.get("status") != UNTRUSTED,
        )

    async def trust(self, account: str, safety_number: str) -> None:
        """Trust the key whose safety number (or hex fingerprint) is exactly this one.

        signal-cli compares it with the person's *current* key, so a key that changed
        again since the safety number was read stays untrusted (:class:`TrustRejected`).
        """
        _checked_account(account)
        path = f"/v1/identities/{self._bot_number}/trust/{account}"
        status, _ = await self._request("PUT", path, {"verified_safety_number": safety_number})
        self._list = None  # whatever happened, the next read asks signal-cli again
        if status == 400:
            raise TrustRejected(status)
        if status != 204:
            raise IdentityError(status)

    async def _identities(self) -> dict[str, dict[str, Any]]:
        """The newest key of every UUID and number, read at most every ``list_seconds``.

        signal-cli-rest-api has no per-contact route: ``GET /v1/identities/{number}``
        lists every identity the account has seen, which grows with the network.  A
        call-out's reveal checks hundreds of people in a few seconds; without a snapshot
        each check would fetch and scan the whole list (the benchmark showed ``status``
        at ~100 ms for this alone at 800 contacts).  The window is short, and a key that
        changed inside it is still caught: signal-cli refuses to send to an untrusted
        key, and that failure quarantines the person (bot/messenger.py).
        """
        async with self._list_lock:
            now = time.monotonic()
            if self._list is not None and now - self._list[0] < self._list_seconds:
                return self._list[1]
            status, body = await self._request("GET", f"/v1/identities/{self._bot_number}")
            if status != 200 or not isinstance(body, list):
                raise IdentityError(status)
            newest: dict[str, dict[str, Any]] = {}
            for entry in sorted(
                (e for e in body if isinstance(e, dict)), key=lambda e: _as_int(e.get("added"))
            ):
                for key in (str(entry.get("uuid") or "").lower(), str(entry.get("number") or "")):
                    if key:
                        newest[key.lower()] = entry
            self._list = (now, newest)
            return newest

    def forget_identities(self) -> None:
        """Read the list afresh next time (a send just failed on someone's key)."""
        self._list = None

    async def _request(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload)
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session:
                scheme = self._scheme or await self._probe(session)
                url = f"{scheme}://{self._service}{path}"
                async with session.request(method, url, data=data, headers=self._headers) as resp:
                    raw = await resp.read()
                    status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise IdentityError(None) from exc
        if not raw:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    async def _probe(self, session: aiohttp.ClientSession) -> str:
        """``auto``, like signalbot: HTTPS if its health check answers 204, else HTTP.

        The choice is kept once one of them answers; while neither does, HTTP is tried.
        """
        for scheme in ("https", "http"):
            try:
                url = f"{scheme}://{self._service}/v1/health"
                async with session.get(url, headers=self._headers) as resp:
                    if resp.status == _HEALTHY:
                        self._scheme = scheme
                        return scheme
            except (aiohttp.ClientError, TimeoutError):
                continue
        return "http"


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
