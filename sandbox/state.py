"""The sandbox's world: personas, groups, what they sent the bot and what the bot sent them.

Everything lives in one object so a test can build a fresh world per test, drive it
in-process, and assert on it without HTTP; the control API is a thin layer over it.
"""

from __future__ import annotations

import json
import time
import uuid as uuidlib
from typing import Any, Protocol

import phonenumbers

from sandbox import inbound
from sandbox.faults import FaultConfig
from sandbox.models import (
    GROUP_PREFIX,
    UNTRUSTED,
    BotAction,
    Delivered,
    Group,
    InjectResult,
    Persona,
    internal_group_id,
    new_identity_key,
    username_for,
)
from sandbox.waiting import Notifier

__all__ = ["BotAction", "Delivered", "Group", "InjectResult", "Persona", "SandboxState"]


class Receiver(Protocol):
    """A connected ``/v1/receive`` websocket, as the state sees it."""

    account: str

    async def send_text(self, data: str) -> None: ...

    async def drop(self, *, clean: bool) -> None: ...


class SandboxState:
    """In-memory Signal world seen from the bot's account."""

    def __init__(self, bot_number: str = "+12025550100") -> None:
        self.bot_number = bot_number
        self.bot_uuid = str(uuidlib.uuid4())
        self.bot_identity_key = new_identity_key()
        self.faults = FaultConfig()
        self._clock = 0
        self._seq = 0
        self._next_number = 101
        self._receivers: set[Receiver] = set()
        self.connections = 0  # bot websockets ever opened: a restart shows as one more
        self.connections = 0  # bot websockets ever opened: a restart shows as one more
        self._receive_down_until = 0.0  # monotonic; /v1/receive refuses until then
        self._changes = Notifier()
        self._init_world()

    def _init_world(self) -> None:
        self._personas: dict[str, Persona] = {}
        self.groups: dict[str, Group] = {}  # by internal id
        self._deliveries: list[Delivered] = []
        self._actions: list[BotAction] = []
        self.contact_timers: dict[str, int] = {}  # persona uuid -> seconds
        self.contact_names: dict[str, str] = {}
        self.attachments: dict[str, tuple[str, str, bytes]] = {}  # inbound: id -> file
        self.sent_attachments: dict[str, tuple[str, str, bytes]] = {}
        self.injected: list[dict[str, Any]] = []  # every frame pushed, validated

    # ----- clock and cursors -------------------------------------------------------------
    def now_ms(self) -> int:
        """Wall-clock ms, strictly increasing so every timestamp identifies one message."""
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    @property
    def last_seq(self) -> int:
        return self._seq

    # ----- personas ----------------------------------------------------------------------
    def _fresh_number(self) -> str:
        taken = {p.number for p in self._personas.values()} | {self.bot_number}
        while True:
            candidate = f"+1202555{self._next_number:04d}"
            self._next_number += 1
            if candidate not in taken:
                return candidate

    def create_persona(
        self,
        name: str,
        *,
        hidden_number: bool = False,
        number: str | None = None,
        uuid: str | None = None,
    ) -> Persona:
        """Add a person; numbers must pass phonenumbers.is_valid_number like signalbot's."""
        if number is not None:
            parsed = phonenumbers.parse(number, None)
            if not phonenumbers.is_valid_number(parsed):
                raise ValueError("number is not a valid E.164 phone number")
            if any(p.number == number for p in self._personas.values()):
                raise ValueError("number already used by another persona")
        uid = str(uuidlib.UUID(uuid)) if uuid else str(uuidlib.uuid4())
        if uid in self._personas:
            raise ValueError("uuid already used by another persona")
        persona = Persona(
            name=name,
            uuid=uid,
            number=None if hidden_number else (number or self._fresh_number()),
            username=username_for(name),
            identity_added=self.now_ms(),
        )
        self._personas[uid] = persona
        return persona

    def persona(self, key: str) -> Persona:
        """Look up by uuid, number, username or name (case-insensitive)."""
        found = self.find_persona(key)
        if found is None:
            lowered = key.lower()
            found = next((p for p in self._personas.values() if p.name.lower() == lowered), None)
        if found is None:
            raise KeyError(f"no persona {key!r}")
        return found

    def find_persona(self, identifier: str) -> Persona | None:
        """Resolve how the REST API names a recipient: number, UUID or username."""
        if identifier in self._personas:
            return self._personas[identifier]
        lowered = identifier.lower()
        for p in self._personas.values():
            if identifier == p.number or lowered == p.uuid or lowered == p.username.lower():
                return p
        return None

    def personas(self) -> list[Persona]:
        return list(self._personas.values())

    def change_identity(self, key: str) -> Persona:
        """The person reinstalled Signal: new key, untrusted until the bot trusts it."""
        p = self.persona(key)
        p.identity_key = new_identity_key()
        p.identity_status = UNTRUSTED
        p.identity_added = self.now_ms()
        return p

    # ----- groups ------------------------------------------------------------------------
    def create_group(self, name: str, members: list[str], *, description: str = "") -> Group:
        """A group of personas with the bot in it, as if one of them had added the bot."""
        uuids = [self.persona(m).uuid for m in members]
        group = Group(Group.new_internal_id(), name, uuids, description=description)
        self.groups[group.internal_id] = group
        return group

    def group(self, group_id: str) -> Group:
        """By public id (``group.…``) or internal id; KeyError if unknown."""
        internal = group_id
        if group_id.startswith(GROUP_PREFIX):
            try:
                internal = internal_group_id(group_id)
            except ValueError as exc:
                raise KeyError(group_id) from exc
        if internal not in self.groups:
            raise KeyError(f"no group {group_id!r}")
        return self.groups[internal]

    def timer_for(self, persona_uuid: str, group: Group | None) -> int:
        """The disappearing-message timer of a conversation."""
        if group is not None:
            return group.expiration_seconds
        return self.contact_timers.get(persona_uuid, 0)

    # ----- inbound (person -> bot): see sandbox/inbound.py --------------------------------
    async def inject_text(
        self,
        persona: str,
        text: str,
        *,
        group_id: str | None = None,
        quote_timestamp: int | None = None,
    ) -> int:
        """Push a text from a persona to the connected receivers; returns its timestamp."""
        result = await inbound.text(
            self, persona, text, group_id=group_id, quote_timestamp=quote_timestamp
        )
        return result.timestamp

    async def inject_text_detailed(
        self,
        persona: str,
        text: str | None,
        *,
        group_id: str | None = None,
        quote_timestamp: int | None = None,
        attachments: list[tuple[str, str, bytes]] | None = None,
    ) -> InjectResult:
        """Like inject_text, plus attachments (filename, content type, bytes) and details."""
        return await inbound.text(
            self,
            persona,
            text,
            group_id=group_id,
            quote_timestamp=quote_timestamp,
            attachments=attachments,
        )

    async def inject_reaction(
        self,
        persona: str,
        emoji: str,
        target_timestamp: int,
        *,
        remove: bool = False,
        group_id: str | None = None,
    ) -> int:
        """A persona reacts to the message with ``target_timestamp``; returns its timestamp."""
        result = await inbound.reaction(
            self, persona, emoji, target_timestamp, remove=remove, group_id=group_id
        )
        return result.timestamp

    async def inject_reaction_detailed(
        self,
        persona: str,
        emoji: str,
        target_timestamp: int,
        *,
        remove: bool = False,
        group_id: str | None = None,
    ) -> InjectResult:
        return await inbound.reaction(
            self, persona, emoji, target_timestamp, remove=remove, group_id=group_id
        )

    async def push(self, frame: dict[str, Any]) -> int:
        """Send a validated frame to connected receivers; lost if none (json-rpc mode)."""
        self.injected.append(frame)
        text = json.dumps(frame, ensure_ascii=False)
        sent = 0
        for receiver in list(self._receivers):
            if receiver.account != frame["account"]:
                continue
            try:
                await receiver.send_text(text)
                sent += 1
            except (ConnectionError, RuntimeError):
                self._receivers.discard(receiver)
        return sent

    # ----- receivers ---------------------------------------------------------------------
    def add_receiver(self, receiver: Receiver) -> None:
        self._receivers.add(receiver)
        if receiver.account == self.bot_number:
            self.connections += 1
        if receiver.account == self.bot_number:
            self.connections += 1
        self._changes.notify()

    def remove_receiver(self, receiver: Receiver) -> None:
        self._receivers.discard(receiver)
        self._changes.notify()

    @property
    def receiver_count(self) -> int:
        return sum(1 for r in self._receivers if r.account == self.bot_number)

    async def drop_receivers(self, *, clean: bool = False, down_seconds: float = 0.0) -> int:
        """Cut every receive websocket; ``clean`` sends close code 1000 instead of aborting.

        ``down_seconds`` keeps the receive side down that long (the service restarting
        behind its proxy): reconnects are refused with 502 until then, and what personas
        send meanwhile is lost, as upstream loses it.  Sending is not affected.
        """
        if down_seconds < 0:
            raise ValueError("down_seconds must be >= 0")
        self._receive_down_until = time.monotonic() + down_seconds
        dropped = list(self._receivers)
        self._receivers.clear()
        for receiver in dropped:
            await receiver.drop(clean=clean)
        self._changes.notify()
        return len(dropped)

    @property
    def receive_down_for(self) -> float:
        """Seconds until ``/v1/receive`` accepts connections again (0: it does)."""
        return max(0.0, self._receive_down_until - time.monotonic())

    async def wait_for_receiver(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self._changes.wait_until(
            lambda: self.receiver_count > 0, timeout, lambda: "no /v1/receive websocket connected"
        )

    # ----- outbound (bot -> person) ------------------------------------------------------
    def record_delivery(self, **kwargs: Any) -> Delivered:
        delivered = Delivered(seq=self.next_seq(), **kwargs)
        self._deliveries.append(delivered)
        self._changes.notify()
        return delivered

    def record_action(self, kind: str, recipient: str, **kwargs: Any) -> BotAction:
        action = BotAction(seq=self.next_seq(), kind=kind, recipient=recipient, **kwargs)
        self._actions.append(action)
        self._changes.notify()
        return action

    def all_deliveries(self) -> list[Delivered]:
        return list(self._deliveries)

    def deliveries(self, *, persona: str | None = None, since: int = 0) -> list[Delivered]:
        """Deliveries after cursor ``since``, optionally only those one persona sees."""
        uid = self.persona(persona).uuid if persona is not None else None
        return [d for d in self._deliveries if d.seq > since and (uid is None or d.persona == uid)]

    def actions(self, *, since: int = 0) -> list[BotAction]:
        return [a for a in self._actions if a.seq > since]

    async def wait_for_deliveries(
        self,
        persona: str | None,
        count: int,
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the shared interface
    ) -> list[Delivered]:
        """The first ``count`` matching deliveries once they exist; TimeoutError otherwise."""

        def describe() -> str:
            got = self.deliveries(since=since)
            lines = [f"#{d.seq} to {self._name(d.persona)}: {d.text!r}" for d in got]
            who = persona if persona is not None else "anyone"
            return (
                f"expected {count} deliveries to {who} after seq {since}; "
                f"arrived: {lines or 'nothing'}"
            )

        await self._changes.wait_until(
            lambda: len(self.deliveries(persona=persona, since=since)) >= count,
            timeout,
            describe,
        )
        return self.deliveries(persona=persona, since=since)[:count]

    def _name(self, uid: str | None) -> str:
        p = self._personas.get(uid or "")
        return p.name if p else str(uid)

    def reset(self) -> None:
        """Forget personas, groups, deliveries and faults; connected receivers stay."""
        self._init_world()
        self.faults.clear()
        self._receive_down_until = 0.0
        self._changes.notify()
