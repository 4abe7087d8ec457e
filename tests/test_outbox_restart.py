"""Exactly once across stops, cancellations, crashes and sealing (FakeMessenger; the
sandbox version with a real restart is in test_outbox_live.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import update

from bot.app import LanternApp
from bot.outbox import TokenBucket
from storage.models import OutboxMessage
from tests.conftest import Chat, FakeMessenger, new_account
from tests.network import Network
from tests.outboxkit import fan_out, rows, starve


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def slow_sends(monkeypatch: pytest.MonkeyPatch, messenger: FakeMessenger, seconds: float) -> None:
    original = messenger.send_text

    async def send_text(account: str, text: str) -> int | None:
        await asyncio.sleep(seconds)
        return await original(account, text)

    monkeypatch.setattr(messenger, "send_text", send_text)


async def test_outbox_stop_mid_queue_then_a_new_process_sends_the_rest_once(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    app: LanternApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = [new_account() for _ in range(80)]
    starve(chat.dispatcher)
    await fan_out(chat.dispatcher, people, "call")
    slow_sends(monkeypatch, messenger, 0.003)
    outbox = chat.dispatcher.outbox
    outbox.bucket = TokenBucket(400.0, 1)
    outbox.start()
    await until(lambda: sum(a in people for a, _ in messenger.sent) >= 20)
    await outbox.stop()
    states = [r.state for r in await rows(app) if r.batch]
    sent_now = [a for a, _ in messenger.sent if a in people]
    assert "sending" not in states, "a stop never leaves a row mid-send"
    assert states.count("sent") == len(sent_now) < len(people)

    second = app.make_dispatcher(messenger)  # the next process, same database
    assert await second.outbox.recover() == 0
    second.outbox.start()
    try:
        await until(lambda: sum(a in people for a, _ in messenger.sent) >= len(people))
        await asyncio.sleep(0.1)
    finally:
        await second.outbox.stop()
    assert sorted(a for a, _ in messenger.sent if a in people) == sorted(people)
    assert all(r.state == "sent" for r in await rows(app))


async def test_outbox_cancelled_mid_send_still_marks_the_row(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    app: LanternApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    who = new_account()
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, [new_account(), who], "x")  # the first takes the token
    slow_sends(monkeypatch, messenger, 0.2)
    outbox = chat.dispatcher.outbox
    outbox.bucket = TokenBucket(100.0, 10)
    outbox.start()
    await until(lambda: bool(outbox._inflight))  # a send is under way
    assert outbox._task is not None
    outbox._task.cancel()  # what a shutdown does to a running task
    await outbox.settle()
    assert [t for a, t in messenger.sent if a == who] == ["x #1"]
    assert [r.state for r in await rows(app) if r.batch] == ["sent", "sent"]


async def test_outbox_rows_a_crash_left_sending_go_again_at_start(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    who = new_account()
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, [new_account(), who], "y")
    [row] = [r for r in await rows(app) if r.state == "queued"]
    async with app.db.transaction() as session:  # claimed, then the power went
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(state="sending")
        )
    restarted = app.make_dispatcher(messenger)
    assert await restarted.outbox.flush_due() == 0  # a claimed row is nobody else's
    assert await restarted.outbox.recover() == 1
    assert await restarted.outbox.flush_due() == 1
    assert [t for a, t in messenger.sent if a == who] == ["y #1"]


async def test_outbox_waits_while_sealed_and_sends_after_unseal(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    people = [new_account() for _ in range(5)]
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, people, "z")
    app.vault.seal()
    outbox = chat.dispatcher.outbox
    outbox.bucket = TokenBucket(100.0, 100)
    outbox.start()
    try:
        await asyncio.sleep(0.3)
        assert sum(a in people for a, _ in messenger.sent) == 1  # no keys: nothing moves
        assert await outbox.flush_due() == 0
        c1, c2 = net.coordinators[:2]
        await chat.send(c1, f"unseal {net.shares[c1]}")
        await chat.send(c2, f"unseal {net.shares[c2]}")
        await until(lambda: sum(a in people for a, _ in messenger.sent) == len(people), 3.0)
    finally:
        await outbox.stop()
    assert sorted(a for a, _ in messenger.sent if a in people) == sorted(people)
