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

from bot.logging import get_logger

log = get_logger("lantern.identities")

UNTRUSTED = "UNTRUSTED"
LIST_SECONDS = 2.0  # how long one read of the identity list answers for, at least
# ... and at most 1/REFRESH_FACTOR of the time goes to reading it: a list of 100,000 people
# is ~30 MB that takes seconds to produce upstream and ~0.2 s of the bot's CPU to index
REFRESH_FACTOR = 20.0
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
        # (when the read began, the newest entry per UUID and number)
        self._list: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._list_lock = asyncio.Lock()
        self._read_seconds = 0.0  # how long the last read took
        self._refresh: asyncio.Task[None] | None = None
        self._epoch = 0  # bumped by forget_identities: a read begun before it is not kept

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
        key = account.lower()
        latest = (await self._identities()).get(key)
        # someone new since the last read (they just joined: their key is pinned now):
        # read now, whatever a read costs; members who ever wrote are all in the list
        if latest is None and self._due(list_only=True):
            latest = (await self._read()).get(key)
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
        self.forget_identities()  # whatever happened, the next read asks signal-cli again
        if status == 400:
            raise TrustRejected(status)
        if status != 204:
            raise IdentityError(status)

    async def _identities(self) -> dict[str, dict[str, Any]]:
        """The newest key of every UUID and number, from the last read of the list.

        signal-cli-rest-api has no per-contact route: ``GET /v1/identities/{number}``
        lists every identity the account has seen, which grows with the network.  So one
        read answers every lookup for a while (a call-out's reveal checks hundreds of
        people in seconds), and once there is a read, no lookup waits for the next one:
        it is made in the background, at most every ``list_seconds`` or every
        ``REFRESH_FACTOR`` times as long as the last read took, whichever is longer.  The
        benchmark found ``status`` waiting ~100 ms for the list at 1,000 contacts every
        2 s; at 100,000 the read takes seconds.

        A key that changed since the read is still caught: signal-cli refuses to send to
        an untrusted key, that failure quarantines the person (bot/messenger.py) and
        :meth:`forget_identities` makes the next lookup wait for a fresh read.
        """
        if self._list is None:
            return await self._read()
        if self._due() and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._read_quietly())
        return self._list[1]

    def _due(self, *, list_only: bool = False) -> bool:
        """Is the last read older than the refresh interval (``list_only``: the floor)?"""
        if self._list is None:
            return True
        gap = self._list_seconds
        if not list_only:
            gap = max(gap, REFRESH_FACTOR * self._read_seconds)
        return time.monotonic() - self._list[0] >= gap

    async def _read_quietly(self) -> None:
        try:
            await self._read()
        except Exception as exc:  # the kept list still answers; the next lookup retries
            log.warning("identity_refresh_failed", error_type=type(exc).__name__)

    async def _read(self) -> dict[str, dict[str, Any]]:
        """Read the list now, unless a read that began after this call has finished."""
        asked = time.monotonic()
        async with self._list_lock:
            if self._list is not None and self._list[0] >= asked:
                return self._list[1]
            began, epoch = time.monotonic(), self._epoch
            path = f"/v1/identities/{self._bot_number}"
            status, raw = await self._request("GET", path, parse=False)
            if status != 200 or not isinstance(raw, bytes):
                raise IdentityError(status)
            newest = await asyncio.to_thread(_index_identities, raw)
            if newest is None:
                raise IdentityError(status)
            self._read_seconds = time.monotonic() - began
            if epoch == self._epoch:
                self._list = (began, newest)
            return newest

    def forget_identities(self) -> None:
        """Read the list afresh next time (a send just failed on someone's key)."""
        self._list = None
        self._epoch += 1

    async def _request(
        self, method: str, path: str, payload: dict[str, Any] | None = None, *, parse: bool = True
    ) -> tuple[int, Any]:
        """(status, the JSON body or None); with ``parse`` False, the raw bytes."""
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
        if not parse:
            return status, raw
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


def _index_identities(raw: bytes) -> dict[str, dict[str, Any]] | None:
    """The newest entry per UUID and per number (in a worker thread: at 100,000 people
    this is ~0.2 s of CPU the event loop should not stand still for)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, list):
        return None
    newest: dict[str, dict[str, Any]] = {}
    for entry in sorted(
        (e for e in body if isinstance(e, dict)), key=lambda e: _as_int(e.get("added"))
    ):
        for key in (str(entry.get("uuid") or ""), str(entry.get("number") or "")):
            if key:
                newest[key.lower()] = entry
    return newest


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
