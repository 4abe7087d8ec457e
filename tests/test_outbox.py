"""The outbox through the real dispatcher and timers, with Signal's failures faked.

Order and priorities, the rate limit, 429 back-off, per-recipient retries, 5xx give-up,
need-to-know screening at send time, and nothing readable at rest.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update
from structlog.testing import capture_logs

from bot.app import LanternApp
from bot.config import Settings
from bot.context import BULK, ROUTINE, URGENT, Context, Outgoing
from bot.i18n import translate
from bot.router import Audience, Command
from security import DecryptionError
from storage.models import OutboxMessage, utcnow
from storage.outbox import OutboxRepository, claimed_item
from tests.canary import Canaries, at_rest
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network
from tests.outboxkit import fan_out, feed, rows, standing, starve


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def texts_to(messenger: FakeMessenger, account: str) -> list[str]:
    return [t for a, t in messenger.sent if a == account]


async def test_outbox_reply_goes_ahead_of_a_queued_bulk_fanout(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    people = [new_account() for _ in range(30)]
    starve(chat.dispatcher, burst=2)
    await fan_out(chat.dispatcher, people, "bulk")
    assert sum(a in people for a, _ in messenger.sent) == 2  # the bucket's two tokens
    before = len(messenger.sent)
    assert await chat.say(net.organizer, "help")  # a reply borrows: it never waits
    assert len(messenger.sent) == before + 1
    left = [r for r in await rows(app) if r.state == "queued"]
    assert len(left) == 28 and all(r.priority == BULK and r.has_body for r in left)
    assert chat.dispatcher.outbox.bucket.tokens < 0  # the bulk behind it pays for it
    feed(chat.dispatcher)
    assert await chat.dispatcher.outbox.flush_due() == 28
    assert sorted(a for a, _ in messenger.sent if a in people) == sorted(people)


async def test_outbox_sends_urgent_before_bulk_and_fifo_within_each(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    bulk = [new_account() for _ in range(5)]
    urgent = [new_account() for _ in range(5)]
    routine = [new_account() for _ in range(3)]
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, bulk, "bulk", priority=BULK)
    await fan_out(chat.dispatcher, routine, "routine", priority=ROUTINE, batch="b2")
    await fan_out(chat.dispatcher, urgent, "urgent", priority=URGENT, batch="b3")
    assert [a for a, _ in messenger.sent if a in bulk + urgent + routine] == bulk[:1]
    feed(chat.dispatcher)
    await chat.dispatcher.outbox.flush_due()
    order = [a for a, _ in messenger.sent if a in bulk + urgent + routine]
    assert order == bulk[:1] + urgent + routine + bulk[1:]
    assert [t for a, t in messenger.sent if a in urgent] == [f"urgent #{i}" for i in range(5)]


async def test_outbox_fast_path_never_jumps_older_rows_of_the_same_priority(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    first = [new_account() for _ in range(3)]
    second = [new_account() for _ in range(2)]
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, first, "first")
    feed(chat.dispatcher)  # tokens again, but the older rows wait for the sender
    await fan_out(chat.dispatcher, second, "second")
    assert [a for a, _ in messenger.sent if a in first + second] == first[:1]
    await chat.dispatcher.outbox.flush_due()
    assert [a for a, _ in messenger.sent if a in first + second] == first + second


async def test_outbox_rows_hold_no_plaintext_at_rest(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    canaries = Canaries()
    people = [canaries.add_uuid(f"acct{i}", new_account()) for i in range(3)]
    secret = canaries.add_text("place", "Warehouse 7 back door Elm Street")
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, people, secret, priority=URGENT, sensitive=False)
    queued = [r for r in await rows(app) if r.state == "queued"]
    assert len(queued) == 2 and all(r.has_body for r in queued)  # positive: bodies exist
    assert (await at_rest(app.db)).hits(canaries) == []
    feed(chat.dispatcher)
    await chat.dispatcher.outbox.flush_due()
    assert all(not r.has_body for r in await rows(app))  # tombstones only
    await app.db.checkpoint()
    assert (await at_rest(app.db)).hits(canaries) == []
    assert sorted(a for a, _ in messenger.sent if a in people) == sorted(people)


async def test_outbox_body_is_bound_to_its_row(net: Network, chat: Chat, app: LanternApp) -> None:
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, [new_account(), new_account(), new_account()], "x")
    a, b = [r.id for r in await rows(app) if r.state == "queued"]
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        body = await session.scalar(select(OutboxMessage.body_ct).where(OutboxMessage.id == a))
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == b).values(body_ct=body)
        )
    with pytest.raises(DecryptionError):
        async with app.db.transaction() as session:
            await OutboxRepository(session, keys).claim(b)


async def test_outbox_plain_429_pauses_everything_backs_off_doubling_then_resets(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    app: LanternApp,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = 0.4  # long enough that the pause is still on when the next message comes
    monkeypatch.setattr(settings, "retry_base_seconds", base)
    people = [new_account() for _ in range(4)]
    messenger.rate_limited = 1
    await fan_out(chat.dispatcher, people, "hello")
    assert [a for a, _ in messenger.sent if a in people] == []  # the first 429 stops the rest
    first = await standing(app)
    assert first.paused_until is not None and first.challenge is None
    assert all(r.state == "queued" and r.attempts == 0 for r in await rows(app) if r.batch)
    # paused: even a reply waits out a plain rate limit
    before = len(texts_to(messenger, net.organizer))
    assert await chat.send(net.organizer, "help") == []
    assert await chat.dispatcher.outbox.flush_due() == 0
    await asyncio.sleep(base * 1.2)
    messenger.rate_limited = 1  # again: the back-off doubles
    await chat.dispatcher.outbox.flush_due()
    assert chat.dispatcher.outbox.rows.backoff == pytest.approx(base * 2)
    second = await standing(app)
    assert second.paused_until is not None and second.paused_until > first.paused_until
    assert await chat.dispatcher.outbox.flush_due() == 0
    await asyncio.sleep(base * 2.2)
    await chat.dispatcher.outbox.flush_due()
    assert sorted(a for a, _ in messenger.sent if a in people) == sorted(people)
    assert len(texts_to(messenger, net.organizer)) == before + 1  # the help, once
    after = await standing(app)
    assert after.paused_until is None and after.backoff_seconds == 0  # reset by success
    assert all(r.attempts == 0 and r.state == "sent" for r in await rows(app))


async def test_outbox_per_recipient_failure_retries_only_that_row(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp, settings: Settings
) -> None:
    slow, fine = new_account(), new_account()
    messenger.recipient_failures[slow] = "RATE_LIMIT_FAILURE"
    await fan_out(chat.dispatcher, [slow, fine], "hi")
    assert texts_to(messenger, fine) == ["hi #1"]
    [row] = [r for r in await rows(app) if r.state == "queued"]
    assert row.attempts == 1 and row.reason == "rate_limit_failure"
    assert (await standing(app)).paused_until is None  # nobody else waits for it
    assert await chat.dispatcher.outbox.flush_due() == 0  # its own back-off is not over
    await asyncio.sleep(settings.retry_base_seconds * 1.5)
    await chat.dispatcher.outbox.flush_due()
    [row] = [r for r in await rows(app) if r.state == "queued"]
    assert row.attempts == 2  # tried again, after a longer wait now
    del messenger.recipient_failures[slow]
    await asyncio.sleep(settings.retry_base_seconds * 2.5)
    await chat.dispatcher.outbox.flush_due()
    assert texts_to(messenger, slow) == ["hi #0"]


async def test_outbox_5xx_retries_then_fails_after_max_attempts(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    app: LanternApp,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "send_max_attempts", 3)
    monkeypatch.setattr(settings, "retry_base_seconds", 0.01)
    lucky, unlucky = new_account(), new_account()
    messenger.unavailable = 2
    await fan_out(chat.dispatcher, [lucky], "a")
    for _ in range(20):
        await asyncio.sleep(0.03)
        await chat.dispatcher.outbox.flush_due()
    assert texts_to(messenger, lucky) == ["a #0"]  # third try went through
    messenger.fail_for.add(unlucky)
    attempts = messenger.attempts
    with capture_logs() as logs:
        await fan_out(chat.dispatcher, [unlucky], "b", batch="b2")
        for _ in range(20):
            await asyncio.sleep(0.03)
            await chat.dispatcher.outbox.flush_due()
    assert messenger.attempts - attempts == 3
    failed = [r for r in await rows(app) if r.batch == "b2"]
    assert [(r.state, r.reason, r.has_body) for r in failed] == [("failed", "unavailable", False)]
    async with app.db.transaction() as session:
        progress = await OutboxRepository(session, None).progress("b2")
    assert (progress.queued, progress.sent, progress.failed) == (0, 0, 1)
    assert unlucky not in str(logs) and "b #0" not in str(logs)
    assert {e["event"] for e in logs} >= {"delivery_failed", "delivery_gave_up"}


async def test_outbox_unregistered_recipient_fails_without_retry(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    gone = new_account()
    messenger.recipient_failures[gone] = "UNREGISTERED_FAILURE"
    await fan_out(chat.dispatcher, [gone], "x")
    assert [(r.state, r.reason, r.attempts) for r in await rows(app) if r.batch] == [
        ("failed", "unregistered", 0)
    ]


async def test_outbox_withholds_sensitive_rows_from_a_quarantined_person(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    mia, ok = new_account(), new_account()
    await join(chat, net, mia, "mia")
    await join(chat, net, ok, "okay")
    messenger.change_identity(mia)
    messenger.changed.discard(mia)  # sends work; the key is just not the verified one
    await fan_out(chat.dispatcher, [mia, mia, ok], "the place is Elm 7", sensitive=True)
    got = texts_to(messenger, mia)
    assert got[-1] == en("quarantine.withheld") and got.count(en("quarantine.withheld")) == 1
    assert not any("Elm 7" in t for t in got)
    assert texts_to(messenger, ok)[-1] == "the place is Elm 7 #2"
    states = [r.state for r in await rows(app) if r.batch]
    assert states == ["withheld", "withheld", "sent"]
    assert en("quarantine.notice", handle="mia") in texts_to(messenger, net.organizer)


async def test_outbox_identity_change_fails_the_row_and_quarantines(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    mia = new_account()
    await join(chat, net, mia, "mia")
    messenger.change_identity(mia)  # sends to her now fail: untrusted key
    await fan_out(chat.dispatcher, [mia], "hello", priority=URGENT)
    assert [(r.state, r.reason) for r in await rows(app) if r.batch] == [("failed", "identity")]
    assert en("quarantine.notice", handle="mia") in texts_to(messenger, net.organizer)


async def test_outbox_tag_remembers_the_signal_timestamp(
    net: Network, chat: Chat, messenger: FakeMessenger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.callouts import CalloutRepository

    seen: list[tuple[str, int, str]] = []

    async def remember_sent(
        self: CalloutRepository, account: str, timestamp: int, callout_id: str, *, now: object
    ) -> None:
        seen.append((account, timestamp, callout_id))

    monkeypatch.setattr(CalloutRepository, "remember_sent", remember_sent, raising=False)
    who = new_account()
    await fan_out(chat.dispatcher, [who], "call-out", priority=URGENT, tag="co1")
    await fan_out(chat.dispatcher, [who], "untagged", priority=URGENT)
    stamps = [stamp for account, stamp in messenger.stamps if account == who]
    assert len(stamps) == 2 and seen == [(who, stamps[0], "co1")]


async def test_outbox_progress_backlog_and_prune(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    from bot import outbox_timers

    starve(chat.dispatcher, burst=2)
    await fan_out(chat.dispatcher, [new_account() for _ in range(5)], "x", batch="b9")
    await fan_out(chat.dispatcher, [new_account()], "y", priority=URGENT, batch="b8")
    async with app.db.transaction() as session:
        repo = OutboxRepository(session, None)
        progress = await repo.progress("b9")
        assert (progress.queued, progress.sent, progress.total) == (3, 2, 5)
        assert await repo.backlog(URGENT) == 1 and await repo.backlog(BULK) == 4
    feed(chat.dispatcher)
    await chat.dispatcher.outbox.flush_due()
    timers = chat.dispatcher.timers
    keys = app.vault.keys
    assert keys is not None
    now = chat.dispatcher.clock()
    await outbox_timers.sweep(timers, keys, now)
    assert len(await rows(app)) > 6  # kept outbox_keep_days
    later = now + timedelta(days=app.settings.outbox_keep_days, hours=2)
    assert await outbox_timers.sweep(timers, keys, later) == 0  # housekeeping, not a deadline
    assert await rows(app) == []


async def test_outbox_counts_and_standing_need_no_keys(app: LanternApp, net: Network) -> None:
    async with app.db.transaction() as session:
        repo = OutboxRepository(session, None)
        counts = await repo.counts()
        assert counts[("sent", 0)] > 0 and set(counts) == {("sent", 0)}
        assert await repo.challenge() is None and await repo.paused_until() is None
        with pytest.raises(RuntimeError):
            await repo.enqueue([object()], now=utcnow())  # type: ignore[list-item]


async def test_outbox_a_row_is_claimed_once(net: Network, chat: Chat, app: LanternApp) -> None:
    starve(chat.dispatcher, burst=1)
    await fan_out(chat.dispatcher, [new_account(), new_account()], "x")
    [row] = [r for r in await rows(app) if r.state == "queued"]
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        first = await OutboxRepository(session, keys).claim(row.id)
    async with app.db.transaction() as session:
        again = await OutboxRepository(session, keys).claim(row.id)
    assert first is not None and first.text == "x #1" and again is None
    async with app.db.transaction() as session:
        assert await OutboxRepository(session, keys).reset_inflight() == 1
        assert await OutboxRepository(session, keys).claim(row.id) is not None


async def test_outbox_a_reply_and_its_notices_go_out_together(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    app: LanternApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message's own reply (priority 0) must not hold back the urgent and routine
    notices committed with it: the fast path sends the whole message in order."""
    others = [new_account() for _ in range(3)]

    async def decide(ctx: Context) -> None:
        ctx.reply_text("decided")
        for i, who in enumerate(others):
            ctx.queue(who, f"moved {i}", priority=URGENT if i else ROUTINE)

    command = Command("decide", (), decide, Audience.MEMBER, "help.help")
    monkeypatch.setitem(app.router._by_word, "decide", command)
    assert await chat.say(net.organizer, "decide") == "decided"
    assert [(a, t) for a, t in messenger.sent if a in others] == [
        (who, f"moved {i}") for i, who in enumerate(others)
    ]
    assert all(r.state == "sent" for r in await rows(app))


async def test_outbox_a_reply_costs_one_transaction_after_the_handlers(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    """Journal, handle (which enqueues the reply already claimed), mark sent: three
    commits per message.  Reading the row back and claiming it took two more."""
    commits: list[int] = []
    event.listen(app.db.engine.sync_engine, "commit", lambda *_: commits.append(1))
    await chat.send(net.organizer, "help")  # warm: identity pinning and the like
    commits.clear()
    replies = await chat.send(net.organizer, "help")
    assert len(replies) == 1
    assert len(commits) == 3
    assert [r.state for r in await rows(app)][-1] == "sent"


async def test_outbox_a_claimed_reply_a_crash_left_unsent_goes_at_the_next_start(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    """The reply is committed 'sending' with the handler's change; if the process dies
    before sending it, the next start puts it back in the queue and it goes once."""
    outbox = chat.dispatcher.outbox

    async def died(_items: object) -> int:
        return 0

    real = outbox.send_claimed
    outbox.send_claimed = died  # type: ignore[method-assign]
    before = len(texts_to(messenger, net.organizer))
    assert await chat.send(net.organizer, "help") == []
    assert [r.state for r in await rows(app)][-1] == "sending"
    outbox.send_claimed = real  # type: ignore[method-assign]
    assert await outbox.recover() == 1
    await outbox.flush_due()
    assert len(texts_to(messenger, net.organizer)) == before + 1
    assert [r.state for r in await rows(app)][-1] == "sent"
    await outbox.flush_due()
    assert len(texts_to(messenger, net.organizer)) == before + 1  # once
    assert [r.state for r in await rows(app)].count("sending") == 0


async def test_outbox_claimed_replies_go_back_to_the_queue_when_sealed_meanwhile(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    outbox = chat.dispatcher.outbox
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repo = OutboxRepository(session, keys)
        item = Outgoing(net.organizer, text="still to go")
        [row_id] = await repo.enqueue([item], now=utcnow(), claim=lambda _i: True)
    app.vault.seal()
    assert await outbox.send_claimed([claimed_item(row_id, item)]) == 0
    assert [r.state for r in await rows(app) if r.id == row_id] == ["queued"]
    assert "still to go" not in texts_to(messenger, net.organizer)
