"""Builders for the JSON frames signal-cli pushes on ``/v1/receive`` in json-rpc mode.

Shapes follow signal-cli's JsonMessageEnvelope/JsonDataMessage records: optional fields
are present as null rather than omitted where signal-cli does so, because a bot must cope
with exactly that (e.g. ``sourceNumber: null`` for people who hide their number).
"""

from __future__ import annotations

from typing import Any

from sandbox import schema
from sandbox.models import Group, Persona


def envelope(
    sender: Persona,
    *,
    timestamp: int,
    server_received: int,
    server_delivered: int,
    data_message: dict[str, Any] | None = None,
    typing_message: dict[str, Any] | None = None,
    source_name: str | None = None,
) -> dict[str, Any]:
    """The envelope; ``source_name`` is the bot's contact name for the sender, if it set one
    (signal-cli prefers it to the profile name)."""
    env: dict[str, Any] = {
        "source": sender.legacy_identifier,
        "sourceNumber": sender.number,
        "sourceUuid": sender.uuid,
        "sourceName": source_name or sender.name,
        "sourceDevice": 1,
        "timestamp": timestamp,
        "serverReceivedTimestamp": server_received,
        "serverDeliveredTimestamp": server_delivered,
    }
    if data_message is not None:
        env["dataMessage"] = data_message
    if typing_message is not None:
        env["typingMessage"] = typing_message
    return env


def group_info(group: Group) -> dict[str, Any]:
    return {
        "groupId": group.internal_id,
        "groupName": group.name,
        "revision": group.revision,
        "type": "DELIVER",
    }


def data_message(
    *,
    timestamp: int,
    text: str | None,
    expires_in_seconds: int,
    group: Group | None = None,
    quote: dict[str, Any] | None = None,
    reaction: dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "timestamp": timestamp,
        "message": text,
        "expiresInSeconds": expires_in_seconds,
        "viewOnce": False,
    }
    if reaction is not None:
        msg["reaction"] = reaction
    if quote is not None:
        msg["quote"] = quote
    if attachments:
        msg["attachments"] = attachments
    if group is not None:
        msg["groupInfo"] = group_info(group)
    return msg


def quote(
    target_timestamp: int, author: Persona | None, bot_number: str, bot_uuid: str, text: str | None
) -> dict[str, Any]:
    """A quote of an earlier message, by a persona or (author None) by the bot."""
    number = author.number if author else bot_number
    uid = author.uuid if author else bot_uuid
    return {
        "id": target_timestamp,
        "author": number or uid,
        "authorNumber": number,
        "authorUuid": uid,
        "text": text,
        "attachments": [],
    }


def reaction(
    emoji: str, target_timestamp: int, *, author_number: str | None, author_uuid: str, remove: bool
) -> dict[str, Any]:
    return {
        "emoji": emoji,
        "targetAuthor": author_number or author_uuid,
        "targetAuthorNumber": author_number,
        "targetAuthorUuid": author_uuid,
        "targetSentTimestamp": target_timestamp,
        "isRemove": remove,
    }


def attachment(
    attachment_id: str, filename: str, content_type: str, size: int, upload_timestamp: int
) -> dict[str, Any]:
    return {
        "contentType": content_type,
        "filename": filename,
        "id": attachment_id,
        "size": size,
        "width": None,
        "height": None,
        "caption": None,
        "uploadTimestamp": upload_timestamp,
        "isVoiceNote": False,
    }


def frame(account: str, env: dict[str, Any]) -> dict[str, Any]:
    """Wrap and validate: raises ContractViolation rather than emit what signalbot drops."""
    message = {"envelope": env, "account": account}
    schema.check_envelope(message)
    return message
