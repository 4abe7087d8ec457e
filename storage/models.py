"""SQLAlchemy 2 models.

Columns ending in ``_ct`` hold AES-GCM ciphertext written by the repositories; columns
ending in ``_bidx`` hold keyed blind indexes used for lookups.  No column holds a phone
number, an account UUID, a handle, an invite code or message text in the clear.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Unicode,
    false,
    text,
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


class Network(Base):
    """The one network this deployment serves, and how its root key is protected.

    Nothing here is secret: ``root_wrapped`` is the root key encrypted under the unseal
    key (which is never stored), ``backlog_public`` lets a sealed process write inbound
    messages it cannot read back.  ``name_pending`` holds the name given to ``lantern
    init`` only until the bot first has a root key to encrypt it with.
    """

    __tablename__ = "network"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # enrolling | active
    mode: Mapped[str] = mapped_column(String(16))  # shares | passphrase
    threshold: Mapped[int] = mapped_column(Integer)
    share_count: Mapped[int] = mapped_column(Integer)
    share_identifier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    root_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    backlog_public: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    name_pending: Mapped[str | None] = mapped_column(String(200), nullable=True)
    argon_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16), nullable=True)
    argon_time: Mapped[int | None] = mapped_column(Integer, nullable=True)
    argon_memory_kib: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rotation_requested_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Enrollment(Base):
    """A one-time coordinator enrollment code (not key material: it only admits a person).

    Stored as SHA-256 of network id and code: codes carry 75 random bits and exist before
    any key does, so a keyed index is impossible and an unkeyed one is not guessable.
    """

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Cell(Base):
    """A compartment: a tenant council, an industrial council, a route.  ``kind`` is
    ``cell`` or ``council`` (the coordinators' own compartment, created at enrollment)."""

    __tablename__ = "cells"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(8), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    dek_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    intake_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    intake_label_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    group_ct: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True
    )  # opt-in announcement group
    # when organizers were last told that a few people carry most of the load
    load_warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CellSite(Base):
    """A building or workplace a cell covers, for routing intake: only a keyed hash of
    the normalised place is stored, so a cold copy cannot be searched for an address."""

    __tablename__ = "cell_sites"

    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"), primary_key=True)
    site_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True, index=True)
    words: Mapped[int] = mapped_column(Integer)  # longer matches win


class CellKey(Base):
    """One version of a cell's key-encryption key, wrapped by the root-derived wrap key."""

    __tablename__ = "cell_keys"

    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataKey(Base):
    """A per-record data key wrapped by its cell's KEK.  Deleting it shreds the record."""

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_cell_version", "cell_id", "kek_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"))
    kek_version: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class Member(Base):
    """A person in the network.  Keyed by a random id, found by blind index.

    ``role`` is the network-wide role (member, coordinator); roles inside cells live in
    :class:`Membership`.  ``identity_ct`` is the safety number last trusted for them.
    """

    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    handle_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    home_cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"))
    dek_id: Mapped[str] = mapped_column(String(32))
    account_ct: Mapped[bytes] = mapped_column(LargeBinary)
    handle_ct: Mapped[bytes] = mapped_column(LargeBinary)
    identity_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    timer_seconds: Mapped[int] = mapped_column(Integer, default=0)
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "protect the psyche": no call-outs or role offers until then (plain: the fan-out
    # filters on it); availability is a bit set of day parts (bot/roles.py), None = any
    paused_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    availability: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Membership(Base):
    """Who is in which cell, as what.  Random ids only: a cold copy shows the shape of
    the network (how many people per cell), never who they are."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_cell", "cell_id"),)

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # member | organizer
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Ban(Base):
    """A removed person's account index, so a new invite cannot bring them back."""

    __tablename__ = "bans"

    account_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invite(Base):
    """A single-use, expiring invite into one cell; only its blind index is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Dialog(Base):
    """The one multi-step conversation a sender is in; its draft has its own data key."""

    __tablename__ = "dialogs"

    account_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    dek_id: Mapped[str] = mapped_column(String(32))
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    account_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    remind_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )


class InboundJournal(Base):
    """Inbound messages, sealed to the backlog public key before they are handled.

    signal-cli-rest-api in json-rpc mode keeps nothing for an absent bot, and a sealed
    bot cannot read anything: every message is written here first (HPKE, write-only),
    handled once keys are available, then reduced to a tombstone (``sealed_ct`` NULL)
    that stops a replayed envelope from being handled twice.  ``dedupe_key`` is a keyed
    hash of sender and timestamp, filled in only when the bot holds keys (a sealed bot
    cannot compute it); it cannot be linked to a member row, and ``received_at`` is
    rounded to the hour.
    """

    __tablename__ = "inbound_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[bytes | None] = mapped_column(LargeBinary(16), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    sealed_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Case(Base):
    """A fight someone brought.  Everything the person said, who they are and how to
    reach them is in ``body_ct`` under the case's own data key (wrapped by its cell's
    key), so deleting that one key shreds the case, its history and its votes.

    Plain columns are what deadlines and queues need: the cell, the status, the rung of
    the escalation ladder, hour-rounded times.  ``ref_bidx`` and ``subject_bidx`` are
    keyed hashes: a case id or a person's account found on a phone leads nowhere in a
    cold copy.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_cell_status", "cell_id", "status"),
        # retention only ever looks at closed cases nobody kept: keep that lookup small
        Index(
            "ix_cases_retention",
            "closed_at",
            postgresql_where=text("status = 'closed' AND NOT keep"),
            sqlite_where=text("status = 'closed' AND keep = 0"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    subject_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"))
    dek_id: Mapped[str] = mapped_column(String(32))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rung: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    vote_deadline: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    closed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    keep: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseEvent(Base):
    """One line of a case's history (status change, note, relayed message, assessment),
    encrypted under the case's data key with the event id in the associated data."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class CaseVote(Base):
    """A ballot in the cell's open vote on a case.  ``voter_key`` is a keyed hash of case
    and member, so a cold copy cannot tell who voted; ballots are deleted at the count."""

    __tablename__ = "case_votes"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    voter_key: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    choice_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Outcome(Base):
    """What survives a shredded case: per cell and month, how many fights ended which
    way and what was won in money.  No ids, no people, no text."""

    __tablename__ = "outcomes"

    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class OutboxMessage(Base):
    """One message to one recipient, written in the same transaction as the change that
    caused it and sent afterwards, one recipient per request, under the rate limit.

    ``body_ct`` (recipient account, text, timer, need-to-know flag, reaction tag) is
    encrypted with the outbox key and set to NULL once the message is sent or given up:
    what stays is a tombstone with a state, for progress counts.  ``batch`` is an opaque
    id (a call-out's, a prompt's) so an organizer can see how far a fan-out got.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "priority", "not_before"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    priority: Mapped[int] = mapped_column(Integer)  # 0 reply, 1 urgent, 2 routine, 3 bulk
    state: Mapped[str] = mapped_column(String(12))  # queued|sending|sent|failed|withheld
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    body_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DeliveryState(Base):
    """The bot account's standing with Signal: a global back-off after a 429, and the
    challenge token of a pending captcha.  Readable without keys on purpose: the operator
    solves the captcha from the CLI of a sealed bot.  The token identifies no person."""

    __tablename__ = "delivery_state"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    challenge_token: Mapped[str | None] = mapped_column(String(200), nullable=True)
    challenged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    backoff_seconds: Mapped[int] = mapped_column(Integer, default=0)


class Callout(Base):
    """An action call-out.  What, where (the secret place), the role slots, the audience,
    who called it and the debriefs are in ``body_ct`` under the call-out's own data key,
    wrapped by the organizing cell's key.  Plain columns are the deadlines the timers
    need (to the minute) and progress flags.  ``expand_cursor`` is how far the fan-out
    to the audience got, so a restart resumes it without sending anyone a second copy."""

    __tablename__ = "callouts"
    __table_args__ = (
        Index("ix_callouts_status_send_at", "status", "send_at"),
        Index("ix_callouts_status_starts_at", "status", "starts_at"),
        Index("ix_callouts_cell_starts", "cell_id", "starts_at"),  # a cell's load window
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"))
    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    dek_id: Mapped[str] = mapped_column(String(32))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))  # scheduled|sending|sent|cancelled|done
    send_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reveal_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expand_cursor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reminders_done: Mapped[int] = mapped_column(Integer, default=0)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    nudged: Mapped[bool] = mapped_column(Boolean, default=False)
    checks_done: Mapped[int] = mapped_column(Integer, default=0)  # escalation triggers fired
    debriefed: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CalloutMember(Base):
    """Someone a call-out was sent to, and their answer.  ``member_bidx`` is a keyed hash
    of the member id (its own domain): it links one person's answers across call-outs for
    attendance, but not to a member row.  The member id itself is under the call-out's
    data key, for reminders and the reveal."""

    __tablename__ = "callout_members"

    callout_id: Mapped[str] = mapped_column(
        ForeignKey("callouts.id", ondelete="CASCADE"), primary_key=True
    )
    member_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True, index=True)
    member_ct: Mapped[bytes] = mapped_column(LargeBinary)
    answer: Mapped[str | None] = mapped_column(String(8), nullable=True)  # yes|no|maybe
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True)  # index of a role slot
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    attended: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class SentRef(Base):
    """Which call-out a delivered message was, so a reaction on it is an answer.  Keyed
    hash of recipient and Signal timestamp: a cold copy cannot tell who got what."""

    __tablename__ = "sent_refs"

    ref_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    callout_id: Mapped[str] = mapped_column(
        ForeignKey("callouts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Debrief(Base):
    """One person's debrief of an action, under the call-out's data key."""

    __tablename__ = "debriefs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    callout_id: Mapped[str] = mapped_column(
        ForeignKey("callouts.id", ondelete="CASCADE"), index=True
    )
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Prompt(Base):
    """An escalation prompt to coordinators.  The question, options, the chain of
    coordinators, who was asked and who decided are in ``body_ct`` under a data key of
    the council (the coordinators' compartment).  ``step_deadline`` moves the prompt to
    the next coordinator; ``deadline`` applies the default.  ``trigger_bidx`` (keyed) makes
    a trigger fire once per occasion."""

    __tablename__ = "prompts"
    __table_args__ = (Index("ix_prompts_status_step", "status", "step_deadline"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    trigger_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    dek_id: Mapped[str] = mapped_column(String(32))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))  # open|decided|defaulted|void
    mode: Mapped[str] = mapped_column(String(8))  # chain|all
    step: Mapped[int] = mapped_column(Integer, default=0)
    step_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PromptAsk(Base):
    """Who has been asked an open prompt (keyed hash of the coordinator's member id), so
    a bare ``1`` finds the prompt it answers without decrypting every open prompt."""

    __tablename__ = "prompt_asks"

    prompt_id: Mapped[str] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True
    )
    member_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True, index=True)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NetworkRole(Base):
    """A change to the role catalogue shipped in the configuration file: a role a
    coordinator added (``custom``; its names and descriptions, in every language, are
    under the network key, bound to ``key``) or one retired (``retired_at``)."""

    __tablename__ = "network_roles"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    custom: Mapped[bool] = mapped_column(Boolean, default=False)
    labels_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MemberRole(Base):
    """A role a member signed up for.  Random ids only, like memberships: a cold copy
    shows how many people hold each role, never who they are.  ``detail`` is the
    translator's language pairs (``en-es``)."""

    __tablename__ = "member_roles"
    __table_args__ = (Index("ix_member_roles_role", "role_key"),)

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    detail: Mapped[str | None] = mapped_column(String(64), nullable=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MemberSkill(Base):
    """What a member can give (car, a language…): random ids only, as above."""

    __tablename__ = "member_skills"
    __table_args__ = (Index("ix_member_skills_skill", "skill"),)

    member_id: Mapped[str] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(32), primary_key=True)


class SlotOffer(Base):
    """A role slot of a call-out offered to one role holder first (fair rotation).
    The person is a keyed hash ("attendee" domain, as in callout_members) and their id
    under the call-out's data key, so a cold copy cannot link an offer to a member row.
    States: offered -> taken | passed | expired."""

    __tablename__ = "slot_offers"
    __table_args__ = (Index("ix_slot_offers_state_expires", "state", "expires_at"),)

    callout_id: Mapped[str] = mapped_column(
        ForeignKey("callouts.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    member_ct: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10))
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Covenant(Base):
    """The participation covenant: the subject of a closed fight is invited, once, to
    give solidarity in the next one.  ``case_bidx`` (keyed hash of the case id) makes it
    once per case and survives the case being shredded; ``subject_bidx`` (keyed hash of
    their account, its own domain) lets a later sign-up or "yes" count as given, without
    pointing at a member row or a case row."""

    __tablename__ = "covenants"

    case_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    cell_id: Mapped[str] = mapped_column(ForeignKey("cells.id"), index=True)
    subject_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(String(8), nullable=True)  # yes | later
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    gave_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# APScheduler 3's SQLAlchemyJobStore table, created by a migration (never by the job
# store itself): jobs hold only a job function reference and opaque ids.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
