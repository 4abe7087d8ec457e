"""Reactions as answers, the plumbing: 👍 / 👎 on a delivered call-out become ``yes <ref>``
/ ``no <ref>`` through the same lock, limit, sealed journal and order as texts.

The call-outs repository's ``remember_sent`` / ``ref_for_reaction`` and the ``yes`` /
``no`` commands are replaced by small fakes here; the call-out tests cover the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.app import LanternApp
from bot.context import URGENT, Context
from bot.reactions import answer_word
from bot.router import Audience, Command, Router
from storage.callouts import CalloutRepository
from storage.repositories import Repositories
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.live import Live
from tests.network import Network
from tests.outboxkit import fan_out

REF = "K7Q2M9"


@dataclass
class FakeCallouts:
    sent: dict[tuple[str, int], str] = field(default_factory=dict)  # (account, ts) -> id
    looked_up: list[tuple[str, int]] = field(default_factory=list)


def fake_callouts(monkeypatch: pytest.MonkeyPatch, router: Router) -> FakeCallouts:
    """Call-out lookups that know what this test delivered; ``yes`` / ``no`` echo."""
    fake = FakeCallouts()

    async def remember_sent(
        self: CalloutRepository, account: str, timestamp: int, callout_id: str, *, now: object
    ) -> None:
        fake.sent[(account, timestamp)] = callout_id

    async def ref_for_reaction(self: CalloutRepository, account: str, timestamp: int) -> str | None:
        fake.looked_up.append((account, timestamp))
        return REF if (account, timestamp) in fake.sent else None

    monkeypatch.setattr(CalloutRepository, "remember_sent", remember_sent, raising=False)
    monkeypatch.setattr(CalloutRepository, "ref_for_reaction", ref_for_reaction, raising=False)

    async def answer(ctx: Context) -> None:
        ctx.reply_text(f"got {ctx.command} {ctx.args} dialog={ctx.dialog is not None}")

    for word in ("yes", "no"):
        command = Command(word, (), answer, Audience.MEMBER, "help.help")
        monkeypatch.setitem(router._by_word, word, command)
    return fake


@pytest.fixture
def callouts(monkeypatch: pytest.MonkeyPatch, app: LanternApp) -> FakeCallouts:
    return fake_callouts(monkeypatch, app.router)


async def delivered_callout(chat: Chat, messenger: FakeMessenger, who: str) -> int:
    await fan_out(chat.dispatcher, [who], "call-out", priority=URGENT, tag="co1")
    return [stamp for account, stamp in messenger.stamps if account == who][-1]


async def react(
    chat: Chat, who: str, target: int, emoji: str, remove: bool = False, at: int | None = None
) -> list[str]:
    before = len(chat.messenger.sent)
    received = at if at is not None else chat.next_ts()
    await chat.dispatcher.on_reaction(who, target, emoji, remove, received)
    return [t for a, t in chat.messenger.sent[before:] if a == who]


def test_reaction_words_for_thumbs_in_every_skin_tone() -> None:
    for tone in ("", "\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"):
        assert answer_word("👍" + tone, False) == "yes"
        assert answer_word("👎" + tone, False) == "no"
    assert answer_word("👍\ufe0f", False) == "yes"
    for other in ("❤️", "😂", "👍👍", "", None):
        assert answer_word(other, False) is None
    assert answer_word("👍", True) is None


async def test_reaction_thumbs_answer_the_callout_reacted_to(
    net: Network, chat: Chat, messenger: FakeMessenger, callouts: FakeCallouts
) -> None:
    ana = new_account()
    await join(chat, net, ana, "ana")
    target = await delivered_callout(chat, messenger, ana)
    assert callouts.sent == {(ana, target): "co1"}
    assert await react(chat, ana, target, "👍🏽") == [f"got yes {REF} dialog=False"]
    assert await react(chat, ana, target, "👎") == [f"got no {REF} dialog=False"]


async def test_reaction_that_answers_nothing_gets_no_reply(
    net: Network, chat: Chat, messenger: FakeMessenger, callouts: FakeCallouts, app: LanternApp
) -> None:
    ana, stranger = new_account(), new_account()
    await join(chat, net, ana, "ana")
    target = await delivered_callout(chat, messenger, ana)
    assert await react(chat, ana, target, "❤️") == []
    assert await react(chat, ana, target, "👍", remove=True) == []
    assert await react(chat, ana, target + 1, "👍") == []  # not a call-out
    assert await react(chat, stranger, target, "👍") == []  # not theirs: same silence
    assert callouts.looked_up == [(ana, target + 1), (stranger, target)]
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        assert await Repositories(session, keys).journal.count_pending() == 0


async def test_reaction_duplicate_envelope_is_answered_once(
    net: Network, chat: Chat, messenger: FakeMessenger, callouts: FakeCallouts
) -> None:
    ana = new_account()
    await join(chat, net, ana, "ana")
    target = await delivered_callout(chat, messenger, ana)
    assert len(await react(chat, ana, target, "👍", at=target + 500)) == 1
    assert await react(chat, ana, target, "👍", at=target + 500) == []
    # a text with the reaction's timestamp is a different message
    await chat.dispatcher.on_text(ana, target + 500, "me")
    assert [t for a, t in messenger.sent if a == ana][-1] != f"got yes {REF} dialog=False"


async def test_reaction_never_answers_the_open_dialog(
    net: Network, chat: Chat, messenger: FakeMessenger, callouts: FakeCallouts, app: LanternApp
) -> None:
    ana = new_account()
    await join(chat, net, ana, "ana")
    target = await delivered_callout(chat, messenger, ana)
    keys = app.vault.keys
    assert keys is not None
    now = chat.dispatcher.clock()
    async with app.db.transaction() as session:
        await Repositories(session, keys).dialogs.save(
            ana, flow="intake", state="what", data={"x": 1}, expires_at=now + timedelta(hours=1)
        )
    assert await react(chat, ana, target, "👍") == [f"got yes {REF} dialog=False"]
    async with app.db.transaction() as session:
        dialog = await Repositories(session, keys).dialogs.get(ana, now=now)
    assert dialog is not None and (dialog.state, dialog.data) == ("what", {"x": 1})


async def test_reaction_while_sealed_is_kept_and_answered_after_unseal(
    net: Network, chat: Chat, messenger: FakeMessenger, callouts: FakeCallouts, app: LanternApp
) -> None:
    ana = new_account()
    await join(chat, net, ana, "ana")
    target = await delivered_callout(chat, messenger, ana)
    app.vault.seal()
    assert await react(chat, ana, target, "👍") == []  # journaled, sealed, no reply
    c1, c2 = net.coordinators[:2]
    await chat.send(c1, f"unseal {net.shares[c1]}")
    await chat.send(c2, f"unseal {net.shares[c2]}")
    assert [t for a, t in messenger.sent if a == ana][-1] == f"got yes {REF} dialog=False"


async def test_live_reaction_to_a_delivered_callout_is_an_answer(
    booted_live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = booted_live
    callouts = fake_callouts(monkeypatch, live.app.router)
    ana = live.state.create_persona("Ana")
    await live.join(ana, "ana")
    await fan_out(live.app.dispatcher, [ana.uuid], "call-out", priority=URGENT, tag="co1")
    [delivered] = live.state.deliveries(persona=ana.uuid)[-1:]
    assert delivered.text == "call-out #0"
    assert callouts.sent == {(ana.uuid, delivered.timestamp): "co1"}
    cursor = live.state.last_seq
    await live.state.inject_reaction(ana.uuid, "👍🏿", delivered.timestamp)
    [answer] = await live.state.wait_for_deliveries(ana.uuid, 1, since=cursor, timeout=8)
    assert answer.text == f"got yes {REF} dialog=False"
    await live.state.inject_reaction(ana.uuid, "👍🏿", delivered.timestamp, remove=True)
    await live.state.inject_reaction(ana.uuid, "🎉", delivered.timestamp)
    await live.say(ana, "me")  # handled in order: nothing came before this reply
    assert len(live.state.deliveries(persona=ana.uuid, since=cursor)) == 2
