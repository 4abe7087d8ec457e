"""Helpers for the call-out tests: a hand-moved clock, a crew of members, sending a
call-out the way an organizer does, and reading what each person received."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime

from bot.app import LanternApp
from bot.i18n import translate
from storage.models import utcnow
from storage.repositories import Repositories
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network

REF = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{6})\b")
PLACE = "12 Oak Street, back door"
WHAT = "Deliver the demand letter"


@dataclass
class Clock:
    """The dispatcher's clock, frozen on a whole minute and moved by hand."""

    now: datetime = field(
        default_factory=lambda: utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1)
    )

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(name="clock")
def clock_fixture(chat: Chat) -> Clock:
    """Import ``clock_fixture`` in a test module; tests take ``clock``."""
    frozen = Clock()
    chat.dispatcher.clock = frozen
    return frozen


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


def when(moment: datetime, language: str = "en", pattern: str = "EEE d MMM, HH:mm") -> str:
    return str(format_datetime(moment, pattern, tzinfo=ZoneInfo("UTC"), locale=language))


def received(messenger: FakeMessenger, account: str, since: int = 0) -> list[str]:
    return [t for a, t in messenger.sent[since:] if a == account]


def everything(messenger: FakeMessenger, since: int = 0) -> list[tuple[str, str]]:
    return messenger.sent[since:]


async def crew(
    chat: Chat, net: Network, count: int, *, lang: str = "en", prefix: str = "member"
) -> list[str]:
    """``count`` members of the network's first cell, joined as people do."""
    people = []
    for i in range(count):
        who = new_account()
        await join(chat, net, who, f"{prefix}{i}", lang=lang)
        people.append(who)
    return people


async def bulk_members(app: LanternApp, cell_ref: str, count: int, lang: str = "en") -> list[str]:
    """Many members at once, straight through the repositories (fan-out sizes)."""
    keys = app.vault.keys
    assert keys is not None
    accounts = [new_account() for _ in range(count)]
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        cell = await repos.cells.by_ref(cell_ref)
        assert cell is not None
        for i, account in enumerate(accounts):
            member = await repos.members.create(
                account=account,
                handle=f"bulk{i}",
                language=lang,
                role="member",
                timer_seconds=0,
                home_cell_id=cell.id,
            )
            await repos.cells.add_member(member.id, cell.id, "member")
    return accounts


async def call_out(
    chat: Chat,
    organizer: str,
    *,
    starts: str = "in 3 days",
    people: int = 2,
    slots: str = "",
    audience: str = "",
    reveal: str = "",
    send: str = "",
    what: str = WHAT,
    where: str = PLACE,
) -> str:
    """The one-line form, confirmed; the call-out's id."""
    parts = [what, starts, where, str(people), slots, audience, "", reveal, send]
    await chat.send(organizer, "callout " + " | ".join(parts).rstrip(" |"))
    replies = await chat.send(organizer, "yes")
    found = REF.search(replies[-1])
    assert found is not None, replies
    return found.group(1)


async def tick(chat: Chat, clock: Clock, at: datetime | None = None) -> int:
    if at is not None:
        clock.now = at
    return await chat.dispatcher.timers.tick()


async def times(app: LanternApp, ref: str) -> tuple[datetime, datetime]:
    """(starts_at, reveal_at) of a call-out."""
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        found = await repos.callouts.locate(ref)
        assert found is not None
        view = await repos.callouts.view(found[0])
        assert view is not None
    return view.starts_at, view.reveal_at
