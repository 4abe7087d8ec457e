"""Helpers for the escalation prompt tests: a hand-moved clock, a test-only prompt kind
and readers for what each coordinator received."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from bot.app import LanternApp
from bot.context import Context
from bot.i18n import translate
from bot.prompts import on_decision, open_prompt
from storage.models import utcnow
from tests.conftest import Chat, FakeMessenger

TEST_KIND = "testkind"
DECISIONS: list[tuple[str, int, str | None]] = []
# Existing message ids serve as question and options: the mechanism does not care.
QUESTION = "ladder.header"  # "… {ref} …"
OPTIONS = ["ladder.letter", "ladder.zap", "ladder.picket"]


@on_decision(TEST_KIND)
async def _record(ctx: Context, subject_id: str, choice: int, handle: str | None) -> None:
    DECISIONS.append((subject_id, choice, handle))


@dataclass
class Clock:
    """The dispatcher's clock, frozen and moved by hand."""

    now: datetime = field(default_factory=lambda: utcnow().replace(second=0, microsecond=0))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(chat: Chat) -> Clock:
    frozen = Clock()
    chat.dispatcher.clock = frozen
    chat.dispatcher.outbox._clock = frozen  # the sender judges "due" by the same clock
    DECISIONS.clear()
    return frozen


async def settle(chat: Chat) -> None:
    """Send what the outbox holds back behind replies (routine notices), as its loop
    would."""
    await chat.dispatcher.outbox.flush_due()


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def received(messenger: FakeMessenger, account: str, since: int = 0) -> list[str]:
    return [t for a, t in messenger.sent[since:] if a == account]


async def open_test(
    chat: Chat,
    app: LanternApp,
    *,
    subject: str = "subject-1",
    occasion: str = "once",
    default: int = 2,
    deadline: datetime | None = None,
) -> str | None:
    """Open a prompt of the test kind the way a sweep or a handler would."""
    refs: list[str | None] = []

    async def work(ctx: Context) -> None:
        refs.append(
            await open_prompt(
                ctx,
                kind=TEST_KIND,
                subject_id=subject,
                occasion=occasion,
                question=QUESTION,
                values={"ref": "K7Q2-M9XP"},
                options=OPTIONS,
                default=default,
                deadline=deadline,
            )
        )

    keys = app.vault.keys
    assert keys is not None
    await chat.dispatcher.timers.in_context(keys, chat.dispatcher.clock(), work)
    await settle(chat)
    return refs[0]


async def answer(chat: Chat, account: str, text: str) -> list[str]:
    """A coordinator answers; the replies, once everyone else has been told."""
    replies = await chat.send(account, text)
    await settle(chat)
    return replies


def asked_in(texts: list[str], ref: str) -> bool:
    return any(t.startswith(f"{ref} — ") for t in texts)


def first_asked(messenger: FakeMessenger, people: list[str], ref: str, since: int) -> list[str]:
    return [p for p in people if asked_in(received(messenger, p, since), ref)]


async def tick(chat: Chat, clock: Clock, **later: float) -> int:
    clock.now += timedelta(**later)
    done = await chat.dispatcher.timers.tick()
    await settle(chat)
    return done
