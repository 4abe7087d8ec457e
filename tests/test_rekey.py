"""Changing the set of coordinators re-splits the unseal key and needs k current shares.

Every test runs on SQLite and PostgreSQL (the ``net`` fixture: 3 coordinators, k=2).
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select, text

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from bot.logging import configure_logging
from storage.models import InboundJournal
from storage.network import NetworkRecord, NetworkRepository
from storage.repositories import Repositories
from tests.conftest import Chat, FakeMessenger, new_account
from tests.network import SHARE, Network, code_in, enroll


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


REJECTED = en("rekey.rejected")


async def network_row(app: LanternApp) -> NetworkRecord:
    async with app.db.transaction() as session:
        found = await NetworkRepository(session).get()
    assert found is not None
    return found


async def add_candidate(chat: Chat, coordinator: str, handle: str) -> str:
    code = code_in(await chat.send(coordinator, "coordinator add"))
    candidate = new_account()
    replies = await enroll(chat, candidate, code, handle)
    assert replies == [en("rekey.candidate_enrolled", handle=handle)]
    return candidate


def shares_sent(messenger: FakeMessenger, account: str) -> list[str]:
    found = (SHARE.search(t) for a, t in messenger.sent if a == account)
    return [m.group(1) for m in found if m]


def changed_word(share: str) -> str:
    words = share.split()
    words[5] = "academic" if words[5] != "academic" else "acid"
    return " ".join(words)


@asynccontextmanager
async def restarted(
    settings: Settings, messenger: FakeMessenger, chat: Chat
) -> AsyncIterator[tuple[LanternApp, Chat]]:
    """A new process on the same database: it starts sealed."""
    second = LanternApp(settings)
    await second.open_vault()
    chat2 = Chat(second.make_dispatcher(messenger), messenger)
    chat2._ts = chat._ts
    try:
        yield second, chat2
    finally:
        second.vault.seal()
        await second.db.dispose()


async def unseals(app: LanternApp, chat: Chat, shares: list[tuple[str, str]]) -> bool:
    """Do these shares unseal the (sealed) app?  Seals again afterwards."""
    assert app.vault.sealed
    for who, words in shares:
        await chat.send(who, f"unseal {words}")
    opened = not app.vault.sealed
    app.vault.seal()
    return opened


async def test_rekey_one_coordinators_approval_alone_changes_nothing(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    c1, c2, _c3 = net.coordinators
    candidate = await add_candidate(chat, c1, "newcomer")
    await chat.send(c1, "rekey")
    before = await network_row(app)
    sent = len(messenger.sent)
    assert await chat.say(c1, f"approve {net.shares[c1]}") == en(
        "rekey.accepted", count=1, needed=2
    )
    # the same person cannot make up the quorum, not even with a second person's words
    assert await chat.say(c1, f"approve {net.shares[c2]}") == en("rekey.already_approved")
    assert await chat.say(c1, f"approve {net.shares[c1]}") == en("rekey.already_approved")
    assert len(messenger.sent) == sent + 3  # one reply each, nothing else
    assert shares_sent(messenger, candidate) == []
    assert await network_row(app) == before
    assert await chat.say(candidate, "status") == en("unknown.hint")


async def test_rekey_adds_removes_and_changes_threshold_with_k_approvals(
    net: Network,
    chat: Chat,
    app: LanternApp,
    messenger: FakeMessenger,
    settings: Settings,
) -> None:
    c1, c2, c3 = net.coordinators
    old = await network_row(app)
    dana = await add_candidate(chat, c2, "dana")
    eli = await add_candidate(chat, c1, "eli")
    await chat.send(c1, "coordinator remove coord3")
    assert await chat.say(c3, "status") != en("unknown.hint")  # a mark changes nothing yet
    proposal = en(
        "rekey.proposed",
        by="coord1",
        handles="coord1, coord2, dana, eli",
        joining="dana, eli",
        leaving="coord3",
        count=4,
        threshold=3,
        needed=2,
    )
    await chat.send(c1, "rekey 3")
    for coordinator in net.coordinators:
        assert [t for a, t in messenger.sent if a == coordinator][-1] == proposal
    assert await chat.say(c3, f"approve {net.shares[c3]}") == en(
        "rekey.accepted", count=1, needed=2
    )
    replies = await chat.send(c2, f"approve {net.shares[c2]}")
    assert replies[0] == en("rekey.accepted", count=2, needed=2)
    done = en("rekey.done", handles="coord1, coord2, dana, eli", threshold=3, count=4)
    assert replies[-1] == done
    for who in (c1, c3, dana, eli):
        assert [t for a, t in messenger.sent if a == who][-1] == done

    new = {who: shares_sent(messenger, who)[-1] for who in (c1, c2, dana, eli)}
    assert len(set(new.values())) == 4 and not set(new.values()) & set(net.shares.values())
    assert len(shares_sent(messenger, c3)) == 1  # the one from enrollment, nothing new
    row = await network_row(app)
    assert (row.threshold, row.share_count, row.epoch) == (3, 4, old.epoch + 1)
    assert row.share_identifier != old.share_identifier and row.root_wrapped != old.root_wrapped
    assert await chat.say(c3, "status") == en("unknown.hint")  # removed: no powers
    assert await chat.say(dana, "status") != en("unknown.hint")  # joined: coordinator
    assert chat.dispatcher.rekeyer.proposal is None and app.vault._unseal_key is None

    async with restarted(settings, messenger, chat) as (second, chat2):
        for subset in itertools.combinations(new.items(), 3):
            assert await unseals(second, chat2, list(subset))
        for subset in itertools.combinations(new.items(), 2):
            assert not await unseals(second, chat2, list(subset))
        for who, share in net.shares.items():  # every old share, the removed one's too
            assert await chat2.say(who, f"unseal {share}") == en("unseal.rejected")
        assert not await unseals(second, chat2, list(net.shares.items()))
        assert await unseals(second, chat2, [(c1, new[c1]), (dana, new[dana]), (eli, new[eli])])


async def test_rekey_delivery_failure_leaves_old_shares_working(
    net: Network,
    chat: Chat,
    app: LanternApp,
    messenger: FakeMessenger,
    settings: Settings,
) -> None:
    c1, c2, c3 = net.coordinators
    before = await network_row(app)
    zoe = await add_candidate(chat, c1, "zoe")
    await chat.send(c1, "rekey")
    messenger.fail_for = {zoe}
    await chat.send(c1, f"approve {net.shares[c1]}")
    replies = await chat.send(c2, f"approve {net.shares[c2]}")
    assert replies[-1] == en("rekey.failed_delivery")
    assert [t for a, t in messenger.sent if a == c3][-1] == en("rekey.failed_delivery")
    assert await network_row(app) == before
    messenger.fail_for = set()
    assert await chat.say(zoe, "status") == en("unknown.hint")  # still only a candidate
    failed_split = shares_sent(messenger, c1)[-1]
    assert failed_split != net.shares[c1]  # c1 got a share of the failed split

    async with restarted(settings, messenger, chat) as (second, chat2):
        assert await chat2.say(c1, f"unseal {failed_split}") == en("unseal.rejected")
        second.vault.seal()
        assert await unseals(second, chat2, [(c3, net.shares[c3]), (c2, net.shares[c2])])


async def test_rekey_sends_no_share_at_all_if_one_safety_number_changed(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    c1, c2, _c3 = net.coordinators
    before = await network_row(app)
    ian = await add_candidate(chat, c1, "ian")
    await chat.send(c1, "rekey")
    messenger.safety[ian] = "9" * 60  # a new phone, silently trusted by signal-cli
    shares = {who: len(shares_sent(messenger, who)) for who in (*net.coordinators, ian)}
    await chat.send(c1, f"approve {net.shares[c1]}")
    replies = await chat.send(c2, f"approve {net.shares[c2]}")
    assert replies[-1] == en("rekey.failed_delivery")
    assert {who: len(shares_sent(messenger, who)) for who in shares} == shares
    assert await network_row(app) == before
    async with app.db.transaction() as session:
        member = await Repositories(session, app.vault.keys).members.by_account(ian)
    assert member is not None and member.quarantined and member.role == "candidate"


async def test_approve_words_never_reach_database_or_logs(
    net: Network, chat: Chat, app: LanternApp, database_url: str
) -> None:
    c1, c2, _c3 = net.coordinators
    sink = io.StringIO()
    configure_logging("DEBUG", stream=sink)
    try:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
        await add_candidate(chat, c1, "logcheck")
        await chat.send(c1, "rekey")
        async with app.db.transaction() as session:
            journaled = await session.scalar(select(func.count()).select_from(InboundJournal))
        await chat.send(c2, f"approve {changed_word(net.shares[c2])}")
        await chat.send(new_account(), f"approve {net.shares[c2]}")
        await chat.send(c1, f"APPROVE {net.shares[c1]}")
        await chat.send(c2, f"aprobar {net.shares[c2]}")
        async with app.db.transaction() as session:
            after = await session.scalar(select(func.count()).select_from(InboundJournal))
            dump = []
            for table in ("inbound_journal", "dialogs", "members", "network", "enrollments"):
                for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                    dump += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    finally:
        configure_logging("WARNING")
    assert after == journaled  # not even sealed to the backlog key
    stored = b"\x00".join(dump)
    if database_url.startswith("sqlite"):
        await app.db.dispose()
        path = Path(database_url.split("///", 1)[1])
        stored += b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    output = sink.getvalue()
    assert "approval_accepted" in output  # the log did capture this flow
    every_share = {
        s for who in {a for a, _ in chat.messenger.sent} for s in shares_sent(chat.messenger, who)
    }
    assert len(every_share) == 3 + 4  # enrollment's and the rekey's
    for share in every_share:
        words = share.split()
        for start in range(0, len(words) - 3, 4):
            sequence = " ".join(words[start : start + 4])
            assert sequence.encode() not in stored
            assert sequence not in output


async def test_approve_from_anyone_but_a_coordinator_is_rejected_identically(
    net: Network, chat: Chat, app: LanternApp, settings: Settings, messenger: FakeMessenger
) -> None:
    c1, c2, c3 = net.coordinators
    candidate = await add_candidate(chat, c1, "hopeful")
    await chat.send(c1, "rekey")
    share = net.shares[c2]
    replies = [
        await chat.say(new_account(), f"approve {share}"),  # stranger
        await chat.say(net.organizer, f"approve {share}"),  # member, organizer
        await chat.say(candidate, f"approve {share}"),  # not a coordinator yet
        await chat.say(c3, f"approve {changed_word(net.shares[c3])}"),  # a bad share
        await chat.say(c3, "approve"),
    ]
    assert replies == [REJECTED] * len(replies)
    # none of them counted: the next real approval is the first
    assert await chat.say(c1, f"approve {net.shares[c1]}") == en(
        "rekey.accepted", count=1, needed=2
    )
    async with restarted(settings, messenger, chat) as (_second, chat2):
        assert await chat2.say(c2, f"approve {share}") == REJECTED  # sealed


async def test_rekey_proposals_are_checked_and_one_at_a_time(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    c1, c2, c3 = net.coordinators
    assert await chat.say(c1, "rekey 1") == en("rekey.bad_threshold", threshold=1, count=3)
    assert await chat.say(c1, "rekey 4") == en("rekey.bad_threshold", threshold=4, count=3)
    assert await chat.say(c1, "rekey two") == en("rekey.usage")
    assert await chat.say(net.organizer, "rekey") == en("unknown.hint")
    assert await chat.say(net.organizer, "coordinator add") == en("unknown.hint")
    assert await chat.say(c1, "coordinator remove orga") == en(
        "rekey.not_coordinator", handle="orga"
    )
    await chat.send(c1, "coordinator remove coord2")
    await chat.send(c2, "coordinator remove coord3")
    assert await chat.say(c1, "rekey") == en("rekey.bad_count", count=1, most=16)
    assert await chat.say(c3, "coordinator keep coord3") == en("rekey.keep_done", handle="coord3")
    await chat.send(c2, "rekey")
    assert await chat.say(c3, "rekey") == en("rekey.already_open")
    cancelled = en("rekey.cancelled", handle="coord3")
    assert await chat.send(c3, "rekey cancel") == [cancelled]
    assert await chat.say(c1, f"approve {net.shares[c1]}") == en("rekey.nothing")
    # a candidate holds nothing: one coordinator may withdraw them, but not mid-proposal
    late = await add_candidate(chat, c1, "late")
    await chat.send(c1, "rekey")
    assert await chat.say(c2, "coordinator remove late") == en(
        "rekey.candidate_in_proposal", handle="late"
    )
    await chat.send(c2, "rekey cancel")
    await chat.send(c2, "coordinator remove late")
    assert await chat.say(late, "status") == en("stranger.reply")
    assert (await network_row(app)).epoch == 1
