"""SQLAlchemy 2 models.

Columns ending in ``_ct`` hold AES-GCM ciphertext written by the repositories; columns
ending in ``_bidx`` hold keyed blind indexes used for lookups.  No column holds a phone
number, an account UUID, a handle, an invite code or message text in the clear.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Member(Base):
    """A person who joined with an invite.  Keyed by a random id, found by blind index."""

    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    handle_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    account_ct: Mapped[bytes] = mapped_column(LargeBinary)
    handle_ct: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    timer_seconds: Mapped[int] = mapped_column(Integer, default=0)


class Invite(Base):
    """A single-use, expiring invite code; only its blind index is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Dialog(Base):
    """The one multi-step conversation a sender is in, its collected fields encrypted."""

    __tablename__ = "dialogs"

    account_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboundJournal(Base):
    """Inbound messages written before they are handled; a tombstone once handled.

    signal-cli-rest-api in json-rpc mode keeps nothing for an absent bot, so a crash
    between receipt and handling would otherwise lose the message.  After handling, the
    body is erased and only ``dedupe_key`` stays (until pruned), so a replayed envelope
    is not handled twice.  ``dedupe_key`` is a keyed hash of sender and timestamp: it
    cannot be linked to a member row, and ``received_at`` is rounded to the hour.
    """

    __tablename__ = "inbound_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    body_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
