"""Threat test 7: a sealed bot keeps what arrives sealed, answers only the fixed
"received" text, and handles the backlog in order once k coordinators unseal it.
See shared/docs/security-model.md, "Threat tests".
"""

from __future__ import annotations

import uuid

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from bot.ratelimit import RateLimiter
from tests.canary import Canaries, at_rest, canary_word
from tests.conftest import Chat, FakeMessenger
from tests.helpers import invite, join
from tests.network import Network

TEXT_EN = "Eviction notice from Castlebridge Lettings for flat 5, Tamsin Okafor"
TEXT_ES = "Mañana a las siete en casa de Begoña Ruiz-Albéniz, calle Almendro 14"
NUMBER = "+34 699 12 34 87"


def events(messenger: FakeMessenger, account: str) -> tuple[list[str], list[int]]:
    return [t for a, t in messenger.sent if a == account], [
        s for a, s in messenger.timers if a == account
    ]


async def test_sealed_bot_keeps_backlog_sealed_and_answers_it_in_order_after_unseal(
    net: Network, app: LanternApp, chat: Chat, settings: Settings
) -> None:
    """Restarted sealed: members and strangers (with canary text, a phone number, a
    join with a handle) each get exactly the fixed "received" text and timer; nothing
    readable reaches the database or its WAL; a duplicate envelope is journaled twice but
    handled once; after k shares the backlog is answered in arrival order with exactly
    what an unsealed bot sends."""
    canaries = Canaries()
    first, second = (str(uuid.uuid4()) for _ in range(2))
    await join(chat, net, first, "sealed_first")
    await join(chat, net, second, "sealed_second")
    code = await invite(chat, net)
    stranger, joiner, other = (str(uuid.uuid4()) for _ in range(3))
    for label, account in (
        ("first", first),
        ("second", second),
        ("stranger", stranger),
        ("joiner", joiner),
    ):
        canaries.add_uuid(label, account)
    for label, value in (("en", TEXT_EN), ("es", TEXT_ES), ("code", code)):
        canaries.add_text(label, value)
    handle = canaries.add_text("handle", canary_word("sealed_"))
    canaries.add_phone("number", "+34699123487")
    app.vault.seal()  # the process stops ...
    await app.db.dispose()

    restarted = LanternApp(settings)  # ... and starts again: sealed
    try:
        await restarted.vault.start()
        assert restarted.vault.sealed and restarted.vault.keys is None
        messenger = FakeMessenger()
        chat2 = Chat(restarted.make_dispatcher(messenger), messenger)
        chat2.dispatcher.limiter = RateLimiter(per_minute=1e9, burst=1_000_000)
        chat2._ts = chat._ts + 1_000_000
        backlog = [
            (first, "me"),
            (first, "lang es"),
            (first, "me"),
            (stranger, TEXT_EN),
            (stranger, f"help {NUMBER}"),
            (joiner, f"join {code}"),
            (joiner, "2"),
            (joiner, handle),
            (joiner, "sí"),
            (second, TEXT_ES),
        ]
        received = translate(settings.default_language, "sealed.received")
        timer = settings.disappearing_timer
        for who, said in backlog:  # members and strangers alike: the timer, then "received"
            sent, timers = len(messenger.sent), len(messenger.timers)
            await chat2.send(who, said)
            assert messenger.sent[sent:] == [(who, received)]
            assert messenger.timers[timers:] == [(who, timer)]
        duplicate_ts = chat2.next_ts()
        for _ in range(2):  # the same envelope twice (a websocket replay)
            await chat2.dispatcher.on_text(second, duplicate_ts, "cells")
        assert messenger.sent[-2:] == [(second, received)] * 2
        assert len(messenger.sent) == len(messenger.timers) == len(backlog) + 2
        messenger.sent.clear()
        messenger.timers.clear()

        sealed_hits = (await at_rest(restarted.db)).hits(canaries)

        c1, c2, _ = net.coordinators
        await chat2.send(c1, f"unseal {net.shares[c1]}")
        before = len(messenger.sent)
        await chat2.send(c2, f"unseal {net.shares[c2]}")
        assert not restarted.vault.sealed
        after = messenger.sent[before:]
        handled = len(backlog) + 1
        announce = translate("en", "unseal.announce", count=handled)
        assert (c1, announce) in after and (c2, announce) in after

        # what an unsealed bot sends for the same messages, asked live now
        live = await chat2.send(first, "me")  # Spanish now, like the third backlog reply
        await chat2.send(first, "lang en")
        live_en = await chat2.send(first, "me")
        texts, _ = events(messenger, first)
        assert texts[:3] == [*live_en, translate("es", "lang.set", language="Español"), *live]
        fresh = str(uuid.uuid4())
        expected_stranger = [await chat2.send(fresh, t) for _, t in backlog[3:5]]
        texts, timers = events(messenger, stranger)
        assert texts == [t for reply in expected_stranger for t in reply]
        assert timers == events(messenger, fresh)[1] and timers
        texts, _ = events(messenger, joiner)
        assert texts[-1] == translate(
            "es", "join.done", handle=handle, cell="Riverside tenants", ref=net.cell
        )
        assert len(texts) == 4
        texts, _ = events(messenger, second)
        assert texts == [translate("en", "unknown.hint"), texts[1]]  # "cells" answered once
        assert texts[1] == (await chat2.send(second, "cells"))[0]
        assert await chat2.say(other, "hello") == translate("en", "stranger.reply")

        handled_hits = (await at_rest(restarted.db)).hits(canaries)
        print(
            f"\nsealed bot: {len(backlog) + 2} messages answered 'received' while sealed, "
            f"{len(sealed_hits)} canary hits on disk sealed, {handled} handled after "
            f"unseal in order, duplicate handled once, {len(handled_hits)} hits after"
        )
        assert sealed_hits == [] and handled_hits == []
    finally:
        restarted.vault.seal()
        await restarted.db.dispose()
