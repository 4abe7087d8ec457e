"""``POST /v2/send`` semantics, kept free of HTTP so they can be read next to upstream.

The order of checks and the error texts follow signal-cli-rest-api 0.101 (api.go SendV2,
client.go SendV2/send) and signal-cli's send command, because bots match on them.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox import schema
from sandbox.models import GROUP_PREFIX, UNTRUSTED, Group, Persona, public_group_id
from sandbox.state import SandboxState

INVALID_REQUEST = "Couldn't process request - invalid request"
NO_ACCOUNT = "Specified account does not exist"
RATE_LIMITED = (
    "Failed to send message due to rate limiting. Use the attached challenge tokens to lift "
    "the rate limit restrictions via the '/v1/accounts/{number}/rate-limit-challenge' endpoint."
)
UNTRUSTED_KEYS = "Unable to complete request due to untrusted recipient keys"
_MIXED = (
    "Signal Messenger {a} and {b} cannot be specified together in one request! "
    "Please split them up into multiple REST API calls."
)


@dataclass
class Reply:
    """An HTTP answer: status and JSON body (None = no body)."""

    status: int
    body: Any = None


def error(message: str, status: int = 400) -> Reply:
    return Reply(status, {"error": message})


def is_phone_number(s: str) -> bool:
    """Upstream's loose check: a leading '+' then digits or spaces."""
    return all((c == "+") if i == 0 else (c.isdigit() or c == " ") for i, c in enumerate(s))


def recipient_kind(recipient: str) -> str:
    """'group' | 'number' | 'username', or ValueError with upstream's message."""
    if recipient.startswith(GROUP_PREFIX):
        rest = recipient[len(GROUP_PREFIX) :]
        try:
            once = base64.b64decode(rest, validate=True)
        except binascii.Error:
            if len(rest) <= 10:
                return "username"
            raise ValueError(f"Invalid identifier {recipient}") from None
        try:
            twice = base64.b64decode(once, validate=True)
        except binascii.Error:
            raise ValueError(f"Invalid identifier {recipient}") from None
        if len(twice) != 32:
            raise ValueError(f"Invalid Signal group size ({len(twice)}")
        return "group"
    if is_phone_number(recipient):
        return "number"
    try:
        uuid.UUID(recipient)
    except ValueError:
        return "username"
    return "number"


def decode_attachment(spec: str) -> tuple[str, str, bytes]:
    """Accept the three upstream forms: raw base64, data URI, data URI with filename."""
    mime, filename, data = "application/octet-stream", "attachment", spec
    match = re.match(r"^data:([^;,]*)(?:;filename=([^;,]*))?;base64,(.*)$", spec, re.S)
    if match:
        mime, filename, data = match.group(1) or mime, match.group(2) or filename, match.group(3)
    try:
        return filename, mime, base64.b64decode(data, validate=True)
    except binascii.Error:
        bad = next((i for i, c in enumerate(data) if not re.match(r"[A-Za-z0-9+/=]", c)), 0)
        raise ValueError(f"illegal base64 data at input byte {bad}") from None


def _link_preview_error(message: str, preview: dict[str, Any] | None) -> str | None:
    if preview is None:
        return None
    url, title = preview.get("url", ""), preview.get("title", "")
    if not url:
        return "Please provide a valid Link Preview URL"
    if not url.startswith("https"):
        return "Link Preview URL must start with https://.."
    if not title:
        return "Please provide a valid Link Preview Title"
    if url not in message:
        return "Link Preview URL is missing in the message!"
    return None


def send_v2(state: SandboxState, body: Any) -> Reply:
    """Handle one /v2/send body; returns the reply upstream would give."""
    if not isinstance(body, dict) or schema.schema_errors(
        "api.SendMessageV2", body, ignore_required=True
    ):
        return error(INVALID_REQUEST)
    body = {k: v for k, v in body.items() if v is not None}  # Go: null = zero value
    recipients: list[str] = list(body.get("recipients") or [])
    if isinstance(body.get("recipient"), str) and body["recipient"]:
        recipients.append(body["recipient"])
    message: str = body.get("message", "")
    number: str = body.get("number", "")
    if not recipients:
        return error("Couldn't process request - please provide at least one recipient")
    if not number:
        return error("Couldn't process request - please provide a valid number")
    sticker = body.get("sticker") or ""
    if sticker and ":" not in sticker:
        return error("Couldn't process request - please provide valid sticker delimiter")
    attachments_in: list[str] = body.get("base64_attachments") or []
    if body.get("view_once") and not attachments_in:
        return error("'view_once' can only be set for image attachments!")

    kinds: dict[str, list[str]] = {"group": [], "number": [], "username": []}
    for r in recipients:
        try:
            kinds[recipient_kind(r)].append(r)
        except ValueError as exc:
            return error(str(exc))
    groups, numbers, usernames = kinds["group"], kinds["number"], kinds["username"]
    if numbers and groups:
        return error(_MIXED.format(a="Groups", b="phone numbers"))
    if usernames and groups:
        return error(_MIXED.format(a="Groups", b="usernames"))
    if numbers and usernames:
        return error(_MIXED.format(a="phone numbers", b="usernames"))
    if len(groups) > 1:
        return error(
            "A signal message cannot be sent to more than one group at once! "
            "Please use multiple REST API calls for that."
        )
    preview_error = _link_preview_error(message, body.get("link_preview"))
    if preview_error:
        return error(preview_error)
    try:
        files = [decode_attachment(a) for a in attachments_in]
    except ValueError as exc:
        return error(str(exc))
    if number != state.bot_number:
        return error(NO_ACCOUNT)
    if not message and not files and not sticker:
        return error(
            "Sending empty message is not allowed, either a message, "
            "attachment or sticker must be given."
        )
    return _deliver(state, body, groups, numbers + usernames, files)


def _resolve(
    state: SandboxState, groups: list[str], singles: list[str]
) -> tuple[Group | None, list[Persona]] | Reply:
    if groups:
        try:
            group = state.group(groups[0])
        except KeyError:
            internal = base64.b64decode(groups[0][len(GROUP_PREFIX) :]).decode()
            return error(f"Group not found: {internal}")
        if not group.bot_is_member:
            return error(f"User is not a member in group: {group.name} ({group.internal_id})")
        return group, [state.persona(uid) for uid in group.members]
    targets = []
    for r in singles:
        persona = state.find_persona(r)
        if persona is None:
            return error(f"The user {r} is not registered.")
        if persona not in targets:
            targets.append(persona)
    return None, targets


def _deliver(
    state: SandboxState,
    body: dict[str, Any],
    groups: list[str],
    singles: list[str],
    files: list[tuple[str, str, bytes]],
) -> Reply:
    resolved = _resolve(state, groups, singles)
    if isinstance(resolved, Reply):
        return resolved
    group, targets = resolved
    faults = state.faults
    if faults.captcha_required and targets:
        tokens = [faults.captcha_token or ""] * len(targets)
        return rate_limited(state, tokens)
    if targets and not faults.take_send_token():
        return rate_limited(state, [""] * len(targets))

    failures: list[dict[str, Any]] = []
    ok: list[Persona] = []
    for p in targets:
        reason = _configured_failure(faults.recipient_failures, p)
        if reason is None and p.identity_status == UNTRUSTED:
            reason = "IDENTITY_FAILURE"
        if reason is None:
            ok.append(p)
        else:
            failures.append(
                {
                    k: v
                    for k, v in {"uuid": p.uuid, "number": p.number, "reason": reason}.items()
                    if v
                }
            )
    if targets and not ok:
        reasons = {f["reason"] for f in failures}
        if reasons == {"IDENTITY_FAILURE"}:
            return error(UNTRUSTED_KEYS)
        if reasons == {"RATE_LIMIT_FAILURE"}:
            return rate_limited(state, [""] * len(failures))
        return error("Failed to send message")

    timestamp = state.now_ms()
    attachment_ids = []
    for filename, mime, data in files:
        att_id = uuid.uuid4().hex
        state.sent_attachments[att_id] = (filename, mime, data)
        attachment_ids.append(att_id)
    for p in ok:
        state.record_delivery(
            timestamp=timestamp,
            recipient=public_group_id(group.internal_id) if group else p.uuid,
            persona=p.uuid,
            text=body.get("message") or None,
            expires_in_seconds=state.timer_for(p.uuid, group),
            quote_timestamp=body.get("quote_timestamp"),
            attachments=len(files),
            quote_author=body.get("quote_author"),
            mentions=list(body.get("mentions") or []),
            text_mode=body.get("text_mode"),
            edit_timestamp=body.get("edit_timestamp"),
            attachment_ids=list(attachment_ids),
            view_once=bool(body.get("view_once")),
            sticker=body.get("sticker"),
        )
    response: dict[str, Any] = {"timestamp": str(timestamp)}
    if failures:
        response["errors"] = {"recipients": failures}
    schema.check_list("data.SendMessageResponse", [response])
    return Reply(201, [response])


def _configured_failure(failures: dict[str, str], p: Persona) -> str | None:
    """Failures may be keyed by uuid, number, username or (case-insensitive) name."""
    lowered = {k.lower(): v for k, v in failures.items()}
    for key in (p.uuid, p.number, p.username, p.name):
        if key and key.lower() in lowered:
            return lowered[key.lower()]
    return None


def rate_limited(state: SandboxState, tokens: list[str]) -> Reply:
    body = {"error": RATE_LIMITED, "challenge_tokens": tokens, "account": state.bot_number}
    schema.check("api.SendMessageError", body)
    return Reply(429, body)
