"""What a handler may touch while one inbound message is handled.

A handler gets a :class:`Context`: the parsed command, the sender's membership (plain
domain object), the repositories bound to this message's transaction, dialog helpers and
``reply``.  Replies are collected and delivered by the dispatcher *after* the
transaction commits, so nobody is told "done" about something that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.config import Settings
from bot.i18n import translate
from storage.network import NetworkRecord
from storage.repositories import DialogState, MemberView, Repositories

if TYPE_CHECKING:
    from bot.identities import Identity
    from bot.rekey import Rekeyer
    from bot.router import Router


class IdentityPort(Protocol):
    """Safety numbers, as signal-cli-rest-api knows them (the messenger implements it)."""

    async def identity(self, account: str) -> Identity | None: ...

    async def trust(self, account: str, safety_number: str) -> None: ...


# Outbox priorities: lower goes first.  A person waiting for an answer comes before a new
# urgent call-out, which comes before routine reminders, which come before bulk work.
REPLY = 0
URGENT = 1
ROUTINE = 2
BULK = 3


@dataclass(frozen=True)
class Outgoing:
    """One thing to do on Signal after commit: send a text or set a conversation timer.

    Written to the outbox in the same transaction as the change that caused it, then
    sent.  ``batch`` groups a fan-out for progress counts (an opaque id); ``tag`` names the
    call-out a message is, so a reaction to it can be read as an answer.
    """

    account: str
    text: str | None = None
    timer_seconds: int | None = None
    sensitive: bool = False  # need-to-know content: withheld from a quarantined person
    priority: int = REPLY
    batch: str | None = None
    tag: str | None = None


@dataclass
class Context:
    sender: str
    text: str
    settings: Settings
    repos: Repositories
    now: datetime
    router: Router
    member: MemberView | None = None
    dialog: DialogState | None = None
    network: NetworkRecord | None = None
    is_organizer: bool = False
    identities: IdentityPort | None = None
    rekey: Rekeyer | None = None  # coordinators' rekey proposals (memory only)
    command: str = ""
    args: str = ""
    language_override: str | None = None
    outgoing: list[Outgoing] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    wakes: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def language(self) -> str:
        if self.language_override:
            return self.language_override
        if self.member is not None:
            return self.member.language
        if self.dialog is not None and isinstance(self.dialog.data.get("language"), str):
            return str(self.dialog.data["language"])
        return self.settings.default_language

    def t(self, message_id: str, /, **values: object) -> str:
        return translate(self.language, message_id, **values)

    def reply(self, message_id: str, /, **values: object) -> None:
        self.outgoing.append(Outgoing(self.sender, text=self.t(message_id, **values)))

    def reply_sensitive(self, text: str) -> None:
        """Need-to-know content (codes, share words, places): only goes out if the
        recipient's safety number is the one last verified (see the dispatcher)."""
        self.outgoing.append(Outgoing(self.sender, text=text, sensitive=True))

    def reply_text(self, text: str) -> None:
        """For text already composed from translated parts (help lists, summaries)."""
        self.outgoing.append(Outgoing(self.sender, text=text))

    def queue(
        self,
        account: str,
        text: str,
        *,
        sensitive: bool = False,
        priority: int = REPLY,
        batch: str | None = None,
        tag: str | None = None,
    ) -> None:
        """A composed text for any account (fan-outs, reminders): goes to the outbox with
        this message's transaction, at ``priority``."""
        self.outgoing.append(
            Outgoing(
                account, text=text, sensitive=sensitive, priority=priority, batch=batch, tag=tag
            )
        )

    async def tell(self, member: MemberView, message_id: str, /, **values: object) -> None:
        """Send to another member, in *their* language (never reveals their account)."""
        await self._tell(member, message_id, False, values)

    async def tell_sensitive(
        self, member: MemberView, message_id: str, /, **values: object
    ) -> None:
        """Like :meth:`tell`, for need-to-know content (case text): withheld from someone
        whose safety number changed."""
        await self._tell(member, message_id, True, values)

    async def announce(self, member: MemberView, message_id: str, /, **values: object) -> None:
        """Like :meth:`tell`, for one of many copies (a vote's result to a whole cell): paced
        by the send rate at routine priority, behind people waiting for an answer."""
        await self._tell(member, message_id, False, values, priority=ROUTINE)

    async def _tell(
        self,
        member: MemberView,
        message_id: str,
        sensitive: bool,
        values: dict[str, object],
        *,
        priority: int = REPLY,
    ) -> None:
        account = await self.repos.members.account_of(member.id)
        if account is not None:
            text = translate(member.language, message_id, **values)
            self.outgoing.append(
                Outgoing(account, text=text, sensitive=sensitive, priority=priority)
            )

    def format_time(self, moment: datetime, pattern: str = "EEE d MMM, HH:mm") -> str:
        """A date and time in the network's time zone and the reader's language."""
        return str(
            format_datetime(
                moment, pattern, tzinfo=ZoneInfo(self.settings.timezone), locale=self.language
            )
        )

    def after_commit(self, action: str) -> None:
        """Ask the dispatcher to do something once this message's changes are committed
        and its replies sent (``seal``, ``deal``, ``activate``)."""
        if action not in self.actions:
            self.actions.append(action)

    def wake(self, key: str, when: datetime) -> None:
        """Ask for a timer tick at ``when`` (an opaque key, see :func:`bot.jobs.wake`),
        made once this transaction has committed: a tick woken for "now" that ran before
        the commit would not see what it was woken for, and nothing would wake it again
        until the next sweep."""
        self.wakes.append((key, when))

    def set_timer(self, seconds: int) -> None:
        self.outgoing.append(Outgoing(self.sender, timer_seconds=seconds))

    async def start_dialog(self, flow: str, state: str, data: dict[str, Any] | None = None) -> None:
        await self.goto(state, data or {}, flow=flow)

    async def goto(
        self, state: str, data: dict[str, Any] | None = None, *, flow: str | None = None
    ) -> None:
        """Move the sender's dialog to ``state``, keeping collected data unless replaced."""
        current = self.dialog
        flow_name = flow or (current.flow if current else None)
        if flow_name is None:
            raise RuntimeError("goto() outside a dialog needs a flow name")
        merged = dict(current.data) if current and data is None else dict(data or {})
        life, remind = self.router.lifetime(flow_name, self.settings)
        expires = self.now + life
        await self.repos.dialogs.save(
            self.sender,
            flow=flow_name,
            state=state,
            data=merged,
            expires_at=expires,
            remind_at=None if remind is None else expires - remind,
        )
        self.dialog = DialogState(flow_name, state, merged, expires)

    async def update_dialog(self, **values: Any) -> None:
        if self.dialog is None:
            raise RuntimeError("no dialog to update")
        await self.goto(self.dialog.state, {**self.dialog.data, **values})

    async def end_dialog(self) -> None:
        await self.repos.dialogs.clear(self.sender)
        self.dialog = None
