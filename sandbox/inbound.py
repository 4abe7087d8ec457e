"""Messages from personas to the bot: envelope construction, validation and push.

Kept apart from SandboxState so the world's bookkeeping and the wire format can be read
separately.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sandbox import envelopes
from sandbox.models import Group, InjectResult, Persona

if TYPE_CHECKING:
    from sandbox.state import SandboxState


async def text(
    state: SandboxState,
    persona: str,
    body: str | None,
    *,
    group_id: str | None = None,
    quote_timestamp: int | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> InjectResult:
    """A persona sends a text (optionally quoting, with attachments) to the bot or a group."""
    sender = state.persona(persona)
    group = _sender_group(state, sender, group_id)
    ts = state.now_ms()
    quote = None
    if quote_timestamp is not None:
        author, quoted_text = message_author(state, quote_timestamp)
        quote = envelopes.quote(
            quote_timestamp, author, state.bot_number, state.bot_uuid, quoted_text
        )
    files = []
    for filename, content_type, data in attachments or []:
        # signal-cli names stored attachments by a random id plus the original extension.
        att_id = f"{uuid.uuid4().hex[:20]}{_extension(filename)}"
        state.attachments[att_id] = (filename, content_type, data)
        files.append(envelopes.attachment(att_id, filename, content_type, len(data), ts))
    data_msg = envelopes.data_message(
        timestamp=ts,
        text=body,
        expires_in_seconds=state.timer_for(sender.uuid, group),
        group=group,
        quote=quote,
        attachments=files,
    )
    return await _emit(state, sender, ts, data_msg)


async def reaction(
    state: SandboxState,
    persona: str,
    emoji: str,
    target_timestamp: int,
    *,
    remove: bool = False,
    group_id: str | None = None,
) -> InjectResult:
    """A persona reacts to a message: the bot's, unless the timestamp is a persona's."""
    sender = state.persona(persona)
    group = _sender_group(state, sender, group_id)
    author, _ = message_author(state, target_timestamp)
    ts = state.now_ms()
    react = envelopes.reaction(
        emoji,
        target_timestamp,
        author_number=author.number if author else state.bot_number,
        author_uuid=author.uuid if author else state.bot_uuid,
        remove=remove,
    )
    data_msg = envelopes.data_message(
        timestamp=ts,
        text=None,
        expires_in_seconds=state.timer_for(sender.uuid, group),
        group=group,
        reaction=react,
    )
    return await _emit(state, sender, ts, data_msg)


def _sender_group(state: SandboxState, sender: Persona, group_id: str | None) -> Group | None:
    if group_id is None:
        return None
    group = state.group(group_id)
    if sender.uuid not in group.members:
        raise ValueError("persona is not a member of that group")
    return group


def message_author(state: SandboxState, timestamp: int) -> tuple[Persona | None, str | None]:
    """Who wrote the message with that timestamp (None = the bot), and its text."""
    for frame in state.injected:
        env = frame["envelope"]
        if env["timestamp"] == timestamp:
            data = env.get("dataMessage") or {}
            return state.find_persona(env["sourceUuid"]), data.get("message")
    for d in state.all_deliveries():
        if d.timestamp == timestamp:
            return None, d.text
    return None, None


async def _emit(
    state: SandboxState, sender: Persona, ts: int, data_msg: dict[str, Any]
) -> InjectResult:
    env = envelopes.envelope(
        sender,
        timestamp=ts,
        server_received=ts + 3,
        server_delivered=ts + 5,
        data_message=data_msg,
        source_name=state.contact_names.get(sender.uuid),
    )
    frame = envelopes.frame(state.bot_number, env)  # raises rather than emit a bad frame
    count = await state.push(frame)
    return InjectResult(ts, count, frame)


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:] if dot >= 0 and len(filename) - dot <= 6 else ""
