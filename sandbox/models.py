"""Plain data kept by the sandbox: the people, their groups, what the bot sent them."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

GROUP_PREFIX = "group."
TRUSTED_UNVERIFIED = "TRUSTED_UNVERIFIED"
TRUSTED_VERIFIED = "TRUSTED_VERIFIED"
UNTRUSTED = "UNTRUSTED"


def new_identity_key() -> bytes:
    """A Curve25519-shaped public key (type byte 0x05 + 32 bytes): only its shape matters."""
    return b"\x05" + secrets.token_bytes(32)


def hex_fingerprint(key: bytes) -> str:
    """signal-cli prints the identity key as spaced hex."""
    return " ".join(f"{b:02x}" for b in key)


def _digits(seed: bytes, count: int) -> str:
    out = ""
    block = seed
    while len(out) < count:
        block = hashlib.sha512(block).digest()
        out += "".join(str(b % 10) for b in block)
    return out[:count]


def safety_number(local_id: str, local_key: bytes, remote_id: str, remote_key: bytes) -> str:
    """A 60-digit, order-independent safety number shaped like Signal's (12 groups of 5)."""
    halves = sorted(
        [
            _digits(local_id.encode() + local_key, 30),
            _digits(remote_id.encode() + remote_key, 30),
        ]
    )
    digits = "".join(halves)
    return " ".join(digits[i : i + 5] for i in range(0, 60, 5))


def username_for(name: str) -> str:
    """A username in Signal's ``nickname.NN`` shape, derived from the display name."""
    slug = re.sub(r"[^A-Za-z0-9_]", "", name.lower()) or "person"
    slug = (slug + "___")[: max(3, min(len(slug), 32))]
    return f"{slug}.{secrets.randbelow(90) + 10}"


@dataclass
class Persona:
    """A simulated Signal user whom tests and the demo play."""

    name: str
    uuid: str
    number: str | None  # None = phone number hidden: envelopes carry sourceNumber null
    username: str = ""
    identity_key: bytes = field(default_factory=new_identity_key, repr=False)
    identity_status: str = TRUSTED_UNVERIFIED
    identity_added: int = 0  # ms

    @property
    def legacy_identifier(self) -> str:
        """signal-cli's deprecated ``source``: the number if visible, else the UUID."""
        return self.number or self.uuid

    @property
    def member_identifier(self) -> str:
        """How the REST API names a member in group listings (number, else UUID)."""
        return self.number or self.uuid

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uuid": self.uuid,
            "number": self.number,
            "username": self.username,
            "identity_status": self.identity_status,
            "fingerprint": hex_fingerprint(self.identity_key),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Persona:
        return cls(
            name=data["name"],
            uuid=data["uuid"],
            number=data.get("number"),
            username=data.get("username", ""),
            identity_status=data.get("identity_status", TRUSTED_UNVERIFIED),
        )


@dataclass
class Delivered:
    """One message the bot sent to one recipient, as that person's phone would show it."""

    seq: int
    timestamp: int
    recipient: str  # persona uuid, or public group id for group sends
    persona: str | None  # the persona whose phone shows it
    text: str | None
    expires_in_seconds: int
    quote_timestamp: int | None
    attachments: int = 0
    quote_author: str | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)
    text_mode: str | None = None
    edit_timestamp: int | None = None  # set when this message edits an earlier one
    deleted: bool = False  # the bot remote-deleted it afterwards
    attachment_ids: list[str] = field(default_factory=list)
    view_once: bool = False
    sticker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivered:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class BotAction:
    """Something the bot did that is not a message: reaction, typing, receipt, delete."""

    seq: int
    kind: str  # "reaction" | "reaction_removed" | "typing_started" | "typing_stopped" | ...
    recipient: str
    timestamp: int | None = None
    emoji: str | None = None
    target_author: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Group:
    """A Signal group as signal-cli knows it; the bot is a member unless it quit."""

    internal_id: str  # base64 of 32 random bytes, as in envelopes' groupInfo.groupId
    name: str
    members: list[str]  # persona uuids (the bot is implicit)
    admins: list[str] = field(default_factory=list)  # persona uuids
    description: str = ""
    bot_is_member: bool = True
    bot_is_admin: bool = True
    revision: int = 1
    expiration_seconds: int = 0
    add_members: str = "every-member"
    edit_group: str = "every-member"
    send_messages: str = "every-member"
    link: str = "disabled"

    @property
    def public_id(self) -> str:
        return public_group_id(self.internal_id)

    @staticmethod
    def new_internal_id() -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode()


def public_group_id(internal_id: str) -> str:
    """The REST API's id: ``"group." + base64(internal_id)``."""
    return GROUP_PREFIX + base64.b64encode(internal_id.encode()).decode()


def internal_group_id(public_id: str) -> str:
    """Inverse of :func:`public_group_id`; ValueError("Invalid group id") like upstream."""
    try:
        raw = base64.b64decode(public_id.removeprefix(GROUP_PREFIX), validate=True)
        return raw.decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("Invalid group id") from exc


@dataclass
class InjectResult:
    """What an injection produced: the envelope timestamp and how many receivers got it."""

    timestamp: int
    delivered_to_receivers: int
    envelope: dict[str, Any]
