"""Changed safety numbers: quarantine, who is told, and in-person re-verification."""

from __future__ import annotations

from bot.i18n import translate
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import CODE, Network


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def received(messenger: FakeMessenger, account: str) -> list[str]:
    return [t for a, t in messenger.sent if a == account]


async def test_changed_identity_withholds_codes_and_alerts_coordinators(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    messenger.change_identity(net.organizer)
    messenger.changed.discard(net.organizer)  # sends still work: only the key differs
    replies = await chat.send(net.organizer, f"invite {net.cell} member")
    assert not any(CODE.match(r.strip()) for r in replies), replies
    assert en("quarantine.withheld") in replies
    # the only organizer of the cell: the coordinators are asked to vouch, by handle
    for coordinator in net.coordinators:
        assert en("quarantine.notice", handle="orga") in received(messenger, coordinator)
    again = await chat.send(net.organizer, f"invite {net.cell} member")
    assert not any(CODE.match(r.strip()) for r in again)


async def test_failed_send_quarantines_and_tells_the_cells_organizers(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    mia = new_account()
    await join(chat, net, mia, "mia")
    messenger.change_identity(mia)
    await chat.send(mia, "me")  # the reply fails: untrusted identity
    assert en("quarantine.notice", handle="mia") in received(messenger, net.organizer)
    assert not any("mia" in t for t in received(messenger, net.coordinators[1]))


async def test_verify_trusts_exactly_the_new_number_after_in_person_check(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    messenger.change_identity(net.organizer)
    messenger.changed.discard(net.organizer)
    await chat.send(net.organizer, f"invite {net.cell} member")
    verifier = net.coordinators[0]
    assert await chat.say(verifier, "verify orga 1234512345") == en(
        "verify.mismatch", handle="orga"
    )
    digits = messenger.safety[net.organizer][:12]
    assert await chat.say(verifier, f"verify orga {digits}") == en("verify.done", handle="orga")
    assert en("verify.you_are_verified", by="coord1") in received(messenger, net.organizer)
    replies = await chat.send(net.organizer, f"invite {net.cell} member")
    assert any(CODE.match(r.strip()) for r in replies)


async def test_verify_reply_is_the_same_for_strangers_to_you_and_nobody(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    mia = new_account()
    await join(chat, net, mia, "mia")
    messenger.change_identity(mia)
    await chat.send(mia, "me")
    member = new_account()
    await join(chat, net, member, "plain")
    # a plain member may not verify; HELP does not even list it
    assert await chat.say(member, "verify mia") == en("unknown.hint")
    coordinator = net.coordinators[2]  # not an organizer of mia's cell
    real = await chat.say(coordinator, "verify mia")
    assert real == en("verify.not_found", handle="mia")
    assert await chat.say(coordinator, "verify nobody") == en("verify.not_found", handle="nobody")
    orga = await chat.say(net.organizer, "verify mia")
    assert orga == en("verify.done", handle="mia")


async def test_quarantined_person_cannot_verify_others(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    first, second = net.coordinators[0], net.coordinators[1]
    for who in (first, second):
        messenger.change_identity(who)
        await chat.send(who, "status")  # fails: both quarantined
        messenger.changed.discard(who)
    assert await chat.say(first, "verify coord2") == en("quarantine.withheld")
