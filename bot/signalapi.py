"""Sending over signal-cli-rest-api directly, so every failure keeps its meaning.

signalbot 2.2 turns every non-2xx answer into ``SendError`` and drops the body, but the
outbox must tell a captcha challenge from a plain rate limit, a changed safety number, an
unregistered person and a server that is down.  So sends and captcha answers go through
this small client, which builds URLs and auth exactly like :class:`IdentityClient` (it
*is* one: same service, scheme rule, credentials and timeout).

Upstream (signal-cli-rest-api 0.101, api.go SendV2 / SubmitRateLimitChallenge):

* ``POST /v2/send`` with ``{"message", "number", "recipients": [one]}`` answers 201 with a
  JSON array of ``{"timestamp": "…", "errors"?: {"recipients": [{uuid, number, reason}]}}``;
  400 ``{"error"}`` (``Unable to complete request due to untrusted recipient keys``,
  ``The user … is not registered.``, ``Failed to send message``); 429
  ``{"error", "challenge_tokens": [...], "account"}`` (a non-blank token = captcha).
* ``POST /v1/accounts/{number}/rate-limit-challenge`` with ``{"challenge_token",
  "captcha"}`` answers 204, or 400 when the captcha is rejected.

Every error here is a signalbot ``SendError`` (callers that only know signalbot still
catch them) chained from an :class:`HttpError` with the status.  No exception message
holds an account, a number or a text.
"""

from __future__ import annotations

from typing import Any

from signalbot.messages import SendError

from bot.identities import IdentityClient, IdentityError, _checked_account

UNTRUSTED_KEYS = "untrusted recipient keys"
NOT_REGISTERED = "is not registered"
RATE_LIMIT_FAILURE = "RATE_LIMIT_FAILURE"
IDENTITY_FAILURE = "IDENTITY_FAILURE"
UNREGISTERED_FAILURE = "UNREGISTERED_FAILURE"
_CREATED, _NO_CONTENT, _BAD_REQUEST, _TOO_MANY = 201, 204, 400, 429


class SignalSendError(SendError):
    """Base of the typed send errors.  ``status`` is None when nothing answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HttpError(SignalSendError):
    """The raw answer (the ``__cause__`` of every typed error below)."""

    def __init__(self, status: int | None) -> None:
        detail = "no response" if status is None else f"HTTP {status}"
        super().__init__(f"signal-cli-rest-api request failed ({detail})", status)


class RateLimited(SignalSendError):
    """429.  ``challenge_tokens`` with a non-blank entry means Signal wants a captcha."""

    def __init__(self, challenge_tokens: list[str]) -> None:
        super().__init__("rate limited by Signal (HTTP 429)", _TOO_MANY)
        self.challenge_tokens = challenge_tokens

    @property
    def challenge(self) -> str | None:
        return next((t.strip() for t in self.challenge_tokens if t and t.strip()), None)


class IdentityChanged(SignalSendError):
    """The recipient's safety number changed and is not trusted: nothing was delivered.

    Carries no account or text; the caller knows whom it was sending to.
    """

    def __init__(self) -> None:
        super().__init__("recipient's identity key changed and is untrusted", _BAD_REQUEST)


class RecipientFailed(SignalSendError):
    """Signal refused this one recipient; ``reason`` is signal-cli's code (e.g.
    ``RATE_LIMIT_FAILURE``, ``UNREGISTERED_FAILURE``) or ``failed`` when it gave none."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(f"recipient failed ({reason})", status)
        self.reason = reason

    @property
    def unregistered(self) -> bool:
        return self.reason == UNREGISTERED_FAILURE


class Unavailable(SignalSendError):
    """5xx, an unexpected status, or no answer at all: try again later."""

    def __init__(self, status: int | None = None) -> None:
        detail = "no response" if status is None else f"HTTP {status}"
        super().__init__(f"signal-cli-rest-api unavailable ({detail})", status)


class ChallengeRejected(SignalSendError):
    """The captcha was not accepted (outdated, already used, or for another token)."""

    def __init__(self) -> None:
        super().__init__("captcha rejected", _BAD_REQUEST)


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return ""


def _recipient_failure(body: Any) -> str | None:
    """The reason in a 201's ``errors.recipients`` (one recipient per send: ours)."""
    if not isinstance(body, list):
        return None
    for batch in body:
        errors = batch.get("errors") if isinstance(batch, dict) else None
        recipients = errors.get("recipients") if isinstance(errors, dict) else None
        for entry in recipients or []:
            if isinstance(entry, dict):
                return str(entry.get("reason") or "failed")
    return None


def _timestamp(body: Any) -> int:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        try:
            return int(body[0].get("timestamp", 0))
        except (TypeError, ValueError):
            return 0
    return 0


class SignalAPI(IdentityClient):
    """Sends and captcha answers (plus the identity calls it inherits)."""

    async def send(self, account: str, text: str) -> int:
        """Send one text to one person; Signal's timestamp of the message."""
        _checked_account(account)
        payload = {"message": text, "number": self._bot_number, "recipients": [account]}
        status, body = await self._call("POST", "/v2/send", payload)
        if status == _CREATED:
            reason = _recipient_failure(body)
            if reason is not None:
                raise self._failure(reason, status) from HttpError(status)
            return _timestamp(body)
        cause = HttpError(status)
        if status == _TOO_MANY:
            tokens = body.get("challenge_tokens") if isinstance(body, dict) else None
            raise RateLimited([str(t) for t in tokens or [] if t is not None]) from cause
        if status == _BAD_REQUEST:
            message = _error_text(body)
            if UNTRUSTED_KEYS in message:
                raise IdentityChanged() from cause
            if NOT_REGISTERED in message:
                raise RecipientFailed(UNREGISTERED_FAILURE, status) from cause
            raise RecipientFailed("failed", status) from cause
        raise Unavailable(status) from cause

    async def submit_challenge(self, token: str, captcha: str) -> None:
        """Answer a rate-limit challenge with a solved captcha."""
        path = f"/v1/accounts/{self._bot_number}/rate-limit-challenge"
        status, _ = await self._call("POST", path, {"challenge_token": token, "captcha": captcha})
        if status == _NO_CONTENT:
            return
        if status == _BAD_REQUEST:
            raise ChallengeRejected() from HttpError(status)
        raise Unavailable(status) from HttpError(status)

    @staticmethod
    def _failure(reason: str, status: int) -> SignalSendError:
        if reason == IDENTITY_FAILURE:
            return IdentityChanged()
        return RecipientFailed(reason, status)

    async def _call(self, method: str, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        try:
            return await self._request(method, path, payload)
        except IdentityError as exc:  # the shared transport: nothing answered
            raise Unavailable(exc.status) from HttpError(exc.status)
