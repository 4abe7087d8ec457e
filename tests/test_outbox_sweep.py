"""Rows a failed write leaves 'sending' while the bot runs: found by the sweep, each sent
once, never a second time (see ``Outbox.sweep``).

Before the sweep such a row waited for the next restart: a commit whose answer was lost
meant a reply nobody got until an operator restarted the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

import bot.dispatcher as dispatcher_module
from bot.app import LanternApp
from bot.context import Outgoing
from bot.i18n import translate
from storage.db import Database
from storage.models import utcnow
from storage.outbox import OutboxItem, OutboxRepository
from tests.conftest import Chat, FakeMessenger
from tests.network import Network
from tests.outboxkit import rows


def connection_lost() -> OperationalError:
    return OperationalError("COMMIT", {}, ConnectionResetError("connection reset by peer"))


def texts_to(messenger: FakeMessenger, account: str) -> list[str]:
    return [t for a, t in messenger.sent if a == account]


class LosesCommitAnswers:
    """The dispatcher's database, except that an armed transaction commits and then
    raises as if the connection was cut before the server's answer came back."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.armed = False
        self.lost = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._db.transaction() as session:
            yield session
        if self.armed:  # committed: only the answer is lost
            self.armed = False
            self.lost += 1
            raise connection_lost()


@pytest.fixture
def lossy(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> LosesCommitAnswers:
    """Arms itself when a handler writes its replies already claimed."""
    proxy = LosesCommitAnswers(chat.dispatcher.db)
    monkeypatch.setattr(chat.dispatcher, "db", proxy)
    monkeypatch.setattr(dispatcher_module, "HANDLE_RETRY", (0.01, 0.01))
    real = OutboxRepository.enqueue

    async def enqueue(repo: OutboxRepository, items: object, **kwargs: object) -> list[int]:
        ids = await real(repo, items, **kwargs)  # type: ignore[arg-type]
        proxy.armed = proxy.armed or kwargs.get("claim") is not None
        return ids

    monkeypatch.setattr(OutboxRepository, "enqueue", enqueue)
    return proxy


async def test_a_reply_whose_commit_answer_was_lost_goes_once_without_a_restart(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, lossy: LosesCommitAnswers
) -> None:
    outbox = chat.dispatcher.outbox
    before = len(texts_to(messenger, net.organizer))
    assert await chat.send(net.organizer, "help") == []  # committed, but counted as failed
    assert lossy.lost == 1
    assert [r.state for r in await rows(app)][-1] == "sending"
    assert await outbox.sweep() == 0  # one sighting is not enough
    assert await outbox.sweep() == 1
    await outbox.flush_due()
    replies = texts_to(messenger, net.organizer)[before:]
    assert len(replies) == 1 and translate("en", "help.header") in replies[0]
    assert [r.state for r in await rows(app)][-1] == "sent"
    assert await outbox.sweep() == 0 and await outbox.sweep() == 0
    await outbox.flush_due()
    assert len(texts_to(messenger, net.organizer)) == before + 1  # once
    # the message itself was handled once: the retry found it done
    assert lossy.lost == 1


async def test_the_running_loop_sweeps_by_itself(
    net: Network,
    chat: Chat,
    app: LanternApp,
    messenger: FakeMessenger,
    lossy: LosesCommitAnswers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.outbox as outbox_module

    monkeypatch.setattr(outbox_module, "SWEEP_SECONDS", 0.2)
    outbox = chat.dispatcher.outbox
    outbox.start()
    try:
        before = len(texts_to(messenger, net.organizer))
        assert await chat.send(net.organizer, "me") == []
        for _ in range(100):
            if len(texts_to(messenger, net.organizer)) > before:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.6)  # more sweeps: still once
        assert len(texts_to(messenger, net.organizer)) == before + 1
    finally:
        await outbox.stop()


async def test_a_row_in_flight_is_never_taken_for_lost(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    """However long Signal takes, a row being sent stays with its sender."""
    outbox = chat.dispatcher.outbox
    gate = asyncio.Event()
    real = messenger.send_text
    blocked = asyncio.Event()

    async def slow(account: str, text: str) -> int | None:
        if account == net.organizer:
            blocked.set()
            await gate.wait()
        return await real(account, text)

    messenger.send_text = slow  # type: ignore[method-assign]
    before = len(texts_to(messenger, net.organizer))
    talking = asyncio.create_task(chat.send(net.organizer, "help"))
    await asyncio.wait_for(blocked.wait(), 5)
    assert [r.state for r in await rows(app)][-1] == "sending"
    assert [await outbox.sweep() for _ in range(3)] == [0, 0, 0]
    gate.set()
    await talking
    assert len(texts_to(messenger, net.organizer)) == before + 1
    assert [await outbox.sweep() for _ in range(2)] == [0, 0]
    await outbox.flush_due()
    assert len(texts_to(messenger, net.organizer)) == before + 1
    assert [r.state for r in await rows(app)][-1] == "sent"


async def test_held_rows_are_not_swept_before_their_commit(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    """The dispatcher holds claimed replies from inside its transaction."""
    outbox = chat.dispatcher.outbox
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        ids = await OutboxRepository(session, keys).enqueue(
            [Outgoing(net.organizer, "hello")], now=utcnow(), claim=lambda _i: True
        )
    outbox.hold(ids)
    assert [await outbox.sweep() for _ in range(3)] == [0, 0, 0]
    outbox.release(ids)  # its sender gave up on it: now it is an orphan
    assert [await outbox.sweep() for _ in range(2)] == [0, 1]
    assert [r.state for r in await rows(app)][-1] == "queued"


async def test_a_row_sent_whose_sent_mark_failed_is_marked_later_not_sent_again(
    net: Network,
    chat: Chat,
    app: LanternApp,
    messenger: FakeMessenger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbox = chat.dispatcher.outbox
    real = OutboxRepository.mark_sent
    down = True

    async def mark_sent(repo: OutboxRepository, row_id: int, **kwargs: object) -> None:
        if down:
            raise connection_lost()
        await real(repo, row_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(OutboxRepository, "mark_sent", mark_sent)
    before = len(texts_to(messenger, net.organizer))
    assert len(await chat.send(net.organizer, "help")) == 1  # sent; not recorded
    assert [r.state for r in await rows(app)][-1] == "sending"
    assert outbox.rows.unmarked
    assert [await outbox.sweep() for _ in range(3)] == [0, 0, 0]  # the database still fails
    assert [r.state for r in await rows(app)][-1] == "sending"
    down = False
    assert await outbox.sweep() == 0
    assert not outbox.rows.unmarked
    assert [r.state for r in await rows(app)][-1] == "sent"
    await outbox.flush_due()
    assert len(texts_to(messenger, net.organizer)) == before + 1


async def test_replies_committed_claimed_are_held_until_sent(
    net: Network,
    chat: Chat,
    app: LanternApp,
    messenger: FakeMessenger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the handler's commit and the send, sweeps leave its replies alone."""
    outbox = chat.dispatcher.outbox
    real = outbox.send_claimed
    swept: list[int] = []

    async def late(items: list[OutboxItem]) -> int:
        swept.extend([await outbox.sweep() for _ in range(3)])
        return await real(items)

    monkeypatch.setattr(outbox, "send_claimed", late)
    before = len(texts_to(messenger, net.organizer))
    assert len(await chat.send(net.organizer, "help")) == 1
    assert swept == [0, 0, 0]
    await outbox.flush_due()
    assert len(texts_to(messenger, net.organizer)) == before + 1
    assert not outbox.rows.owned
