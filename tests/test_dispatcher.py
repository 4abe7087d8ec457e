"""The dispatcher's guarantees: nothing lost, nothing handled twice, nothing half-done."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

import bot.dispatcher as dispatcher_module
from bot.app import LanternApp
from bot.context import Context
from bot.i18n import translate
from storage.journal import JournalRepository
from storage.models import InboundJournal
from storage.repositories import Repositories
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import invite, join
from tests.network import Network


async def test_duplicate_envelope_is_handled_once(chat: Chat, messenger: FakeMessenger) -> None:
    stranger = new_account()
    await chat.dispatcher.on_text(stranger, 42, "hello")
    await chat.dispatcher.on_text(stranger, 42, "hello")  # websocket replay
    assert len([m for m in messenger.sent if m[0] == stranger]) == 1


async def test_journaled_message_is_replayed_after_a_crash(
    net: Network, app: LanternApp, chat: Chat, messenger: FakeMessenger
) -> None:
    member = new_account()
    await join(chat, net, member, "replayed")
    async with app.db.transaction() as session:  # received, then the process died
        await Repositories(session, app.vault.keys).journal.record(
            member, 7, "text", {"text": "me"}
        )
    before = len(messenger.sent)
    assert await chat.dispatcher.replay_pending() == 1
    [reply] = [t for _, t in messenger.sent[before:]]
    assert "handle: replayed" in reply
    assert await chat.dispatcher.replay_pending() == 0


async def test_failed_handler_rolls_back_and_asks_to_resend(
    net: Network, app: LanternApp, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = new_account()
    code = await invite(chat, net)
    await chat.send(person, f"join {code}")
    await chat.send(person, "1")
    await chat.send(person, "halfway")

    async def create_then_fail(self, **kwargs):  # type: ignore[no-untyped-def]
        await original(self, **kwargs)
        raise RuntimeError("disk full")

    from storage.repositories import MemberRepository

    original = MemberRepository.create
    monkeypatch.setattr(MemberRepository, "create", create_then_fail)
    assert await chat.say(person, "yes") == translate("en", "error.internal")
    monkeypatch.setattr(MemberRepository, "create", original)
    # nothing was half-done: no member, the code is unused, the dialog is where it was
    assert await chat.say(person, "yes") == translate(
        "en", "join.done", handle="halfway", cell="Riverside tenants", ref=net.cell
    )
    async with app.db.transaction() as session:
        assert await Repositories(session, app.vault.keys).journal.pending() == []


async def test_one_persons_messages_are_handled_in_order(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    person = new_account()
    code = await invite(chat, net)
    dispatcher = chat.dispatcher
    texts = [f"join {code}", "2", "en_orden", "sí", "yo"]
    await asyncio.gather(
        *(dispatcher.on_text(person, 1000 + i, text) for i, text in enumerate(texts))
    )
    replies = [t for a, t in chat.messenger.sent if a == person]
    assert replies[-2] == translate(
        "es", "join.done", handle="en_orden", cell="Riverside tenants", ref=net.cell
    )
    assert "alias: en_orden" in replies[-1]
    assert len(dispatcher.locks) == 0  # no lock left behind


async def test_many_people_at_once_do_not_interfere(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = [new_account() for _ in range(12)]
    codes = [await invite(chat, net) for _ in people]

    async def run(person: str, code: str, n: int) -> None:
        for i, text in enumerate((f"join {code}", "1", f"person_{n}", "yes")):
            await chat.dispatcher.on_text(person, 10_000 * (n + 1) + i, text)

    await asyncio.gather(
        *(run(p, c, n) for n, (p, c) in enumerate(zip(people, codes, strict=True)))
    )
    for n, person in enumerate(people):
        last = [t for a, t in chat.messenger.sent if a == person][-1]
        assert last == translate(
            "en", "join.done", handle=f"person_{n}", cell="Riverside tenants", ref=net.cell
        )


async def test_database_down_gets_an_answer_not_silence(
    chat: Chat, messenger: FakeMessenger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr(chat.dispatcher.db, "transaction", broken)
    monkeypatch.setattr(dispatcher_module, "JOURNAL_RETRY", (0.01, 0.01))
    person = new_account()
    await chat.dispatcher.on_text(person, 5, "hello")
    assert [m for m in messenger.sent if m[0] == person] == [
        (person, translate("en", "error.unavailable"))
    ]


async def test_one_failed_delivery_does_not_stop_the_others(
    chat: Chat, messenger: FakeMessenger, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender, other = new_account(), new_account()
    router = chat.dispatcher.router

    async def two_replies(ctx: Context) -> None:
        ctx.outgoing.append(dataclasses.replace(ctx.outgoing[0], account=other, text="a"))
        ctx.reply_text("b")

    async def first_reply_goes_to_other(ctx: Context) -> None:
        ctx.reply_text("to other")
        await two_replies(ctx)

    monkeypatch.setitem(
        router._by_word,
        "ping",
        dataclasses.replace(router.lookup("help"), handler=first_reply_goes_to_other),
    )
    messenger.fail_for.add(sender)
    await chat.dispatcher.on_text(sender, 9, "ping")
    assert (other, "a") in messenger.sent


async def test_tombstones_are_pruned_after_two_days(chat: Chat, app: LanternApp) -> None:
    from datetime import timedelta

    from storage.models import utcnow

    stranger = new_account()
    await chat.dispatcher.on_text(stranger, 77, "hello")
    async with app.db.transaction() as session:
        journal = Repositories(session, app.vault.keys).journal
        tombstones = await session.scalar(select(func.count()).select_from(InboundJournal))
        assert tombstones and tombstones >= 1
        assert await journal.prune(now=utcnow()) == 0
        assert await journal.prune(now=utcnow() + timedelta(hours=50)) == tombstones


def connection_lost() -> OperationalError:
    """What SQLAlchemy raises when the server went away mid-transaction."""
    return OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))


def test_transient_database_failures_are_told_from_real_ones() -> None:
    import sqlite3

    import asyncpg.exceptions as pg

    from storage.db import is_transient

    transient = [
        connection_lost(),
        ConnectionRefusedError(),
        TimeoutError(),
        OperationalError("x", {}, sqlite3.OperationalError("database is locked")),
        DBAPIError("x", {}, Exception("gone"), connection_invalidated=True),
        OperationalError("x", {}, pg.CannotConnectNowError("the database system is starting")),
        OperationalError("x", {}, pg.AdminShutdownError("terminating connection")),
    ]
    wrapped = RuntimeError("the application's own error")  # caused by one: not the database
    wrapped.__cause__ = ConnectionResetError()
    permanent = [
        RuntimeError("a bug"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        OperationalError("x", {}, sqlite3.OperationalError("no such table: members")),
        ValueError("bad input"),
        wrapped,
    ]
    assert [is_transient(e) for e in transient] == [True] * len(transient)
    assert [is_transient(e) for e in permanent] == [False] * len(permanent)


class Flaky:
    """Make a repository method fail as a lost connection would, while ``down``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> None:
        self.down = True
        self.failures = 0
        original = getattr(owner, name)

        async def flaky(repo: object, *args: object, **kwargs: object) -> object:
            if self.down:
                self.failures += 1
                raise connection_lost()
            return await original(repo, *args, **kwargs)

        monkeypatch.setattr(owner, name, flaky)


async def test_a_database_blip_while_journaling_is_waited_out(
    chat: Chat, messenger: FakeMessenger, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(monkeypatch, JournalRepository, "record")
    person = new_account()
    sent = asyncio.create_task(chat.dispatcher.on_text(person, 5, "hello"))
    await asyncio.sleep(0.5)  # the first tries fail (0.2 s, then 0.5 s between them)
    assert flaky.failures >= 2 and not sent.done()
    flaky.down = False
    await sent
    assert [t for a, t in messenger.sent if a == person] == [translate("en", "stranger.reply")]


async def test_a_database_down_while_handling_keeps_the_messages_and_handles_each_once_in_order(
    net: Network,
    app: LanternApp,
    chat: Chat,
    messenger: FakeMessenger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = new_account()
    await join(chat, net, member, "patient")
    monkeypatch.setattr(dispatcher_module, "HANDLE_RETRY", (0.01, 0.01))
    flaky = Flaky(monkeypatch, JournalRepository, "claim")
    before = len(messenger.sent)
    await chat.dispatcher.on_text(member, 101, "lang es")
    delayed = translate("en", "error.delayed")
    assert [t for a, t in messenger.sent[before:] if a == member] == [delayed]
    assert chat.dispatcher.stalled
    # while it is stalled, later messages are written down and wait behind the first
    await chat.dispatcher.on_text(member, 102, "me")
    assert [t for a, t in messenger.sent[before:] if a == member] == [delayed]
    async with app.db.transaction() as session:
        assert len(await Repositories(session, app.vault.keys).journal.pending()) == 2

    flaky.down = False
    for _ in range(200):
        if not chat.dispatcher.stalled:
            break
        await asyncio.sleep(0.05)
    assert not chat.dispatcher.stalled
    replies = [t for a, t in messenger.sent[before:] if a == member]
    # each once, in the order sent: the language changed first, so "me" answers in Spanish
    assert replies[0] == delayed and len(replies) == 3, replies
    assert replies[1].startswith(translate("es", "lang.set", language="").split(":")[0])
    assert "patient" in replies[2] and replies[2] == await chat.say(member, "me")
    assert translate("en", "error.internal") not in replies
    async with app.db.transaction() as session:
        assert await Repositories(session, app.vault.keys).journal.pending() == []
    await chat.dispatcher.close()


async def test_when_the_database_fails_the_notices_come_in_the_senders_language(
    net: Network,
    app: LanternApp,
    chat: Chat,
    messenger: FakeMessenger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sender's language is in the database that failed: the bot answers in the
    language it last answered them in.  Someone it has not heard from since the unseal
    gets the network's language."""
    member, stranger = new_account(), new_account()
    await join(chat, net, member, "lengua")
    await chat.send(member, "lang es")
    monkeypatch.setattr(dispatcher_module, "HANDLE_RETRY", (0.01, 0.01))
    monkeypatch.setattr(dispatcher_module, "JOURNAL_RETRY", (0.01, 0.01))
    claims = Flaky(monkeypatch, JournalRepository, "claim")
    assert await chat.send(member, "me") == [translate("es", "error.delayed")]
    claims.down = False
    await chat.dispatcher.close()

    records = Flaky(monkeypatch, JournalRepository, "record")
    assert await chat.send(member, "me") == [translate("es", "error.unavailable")]
    assert await chat.send(stranger, "hola") == [translate("en", "error.unavailable")]
    records.down = False


async def test_the_language_memory_holds_no_key_and_ends_with_the_keys(
    net: Network, app: LanternApp, chat: Chat
) -> None:
    """Senders are found by the keyring's own blind index (no key of its own), sealed it
    answers nothing, and any seal of the vault, not only the panic command, empties it."""
    from bot.languages import RecentLanguages
    from security import Keyring

    keys = app.vault.keys
    assert keys is not None
    languages = RecentLanguages(size=2)
    languages.remember("a", "es", keys)
    assert languages.get("a", keys) == "es"
    assert languages.get("a", None) is None  # sealed
    assert languages.get("a", Keyring.generate()) is None  # another root
    for account in ("a", "b", "c"):
        languages.remember(account, "es", keys)
    assert [languages.get(a, keys) for a in ("a", "b", "c")] == [None, "es", "es"]
    assert not any(isinstance(v, bytes) and len(v) == 32 for v in vars(languages).values())

    await chat.send(net.organizer, "me")
    assert len(chat.dispatcher.languages) >= 1
    app.vault.seal()  # as a stop does
    assert len(chat.dispatcher.languages) == 0


async def test_a_panic_seal_forgets_the_languages(net: Network, chat: Chat) -> None:
    await chat.send(net.coordinators[0], "help")
    assert len(chat.dispatcher.languages) >= 1
    await chat.send(net.coordinators[0], "seal")
    assert chat.dispatcher.vault.sealed
    assert len(chat.dispatcher.languages) == 0


async def test_a_running_bot_prunes_old_tombstones_after_replying(
    chat: Chat, app: LanternApp, messenger: FakeMessenger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every PRUNE_EVERY messages, tombstones older than two days go, even on a bot that
    never restarts; the reply to that message does not wait for it."""
    from datetime import timedelta

    from storage.models import utcnow

    monkeypatch.setattr(dispatcher_module, "PRUNE_EVERY", 2)
    stranger = new_account()
    start = utcnow()
    chat.dispatcher.clock = lambda: start
    await chat.send(stranger, "hello")
    chat.dispatcher.clock = lambda: start + timedelta(hours=50)
    order: list[str] = []
    real_prune = chat.dispatcher._prune
    real_send = messenger.send_text

    async def prune(keys: object) -> None:
        order.append("prune")
        await real_prune(keys)  # type: ignore[arg-type]

    async def send(account: str, text: str) -> int | None:
        order.append("reply")
        return await real_send(account, text)

    monkeypatch.setattr(chat.dispatcher, "_prune", prune)
    monkeypatch.setattr(messenger, "send_text", send)
    for _ in range(3):
        await chat.send(stranger, "hello")
        if "prune" in order:
            break
    assert order[-2:] == ["reply", "prune"], order
    async with app.db.transaction() as session:
        left = await session.scalar(select(func.count()).select_from(InboundJournal))
    assert left == 0  # the journal writes real times: all are two days old on this clock
