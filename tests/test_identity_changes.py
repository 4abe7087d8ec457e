"""Changed safety numbers, end to end: unmodified signalbot + the sandbox + SignalMessenger.

A person's key changes (new phone, SIM swap, seized phone re-registered): sends to them
fail with IDENTITY_FAILURE, the identity list shows a new safety number as UNTRUSTED, and
only trusting exactly the new safety number lets messages through again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from signalbot.messages import SendError
from structlog.testing import capture_logs

from bot.context import Outgoing
from bot.identities import IdentityClient, IdentityError, TrustRejected
from bot.messenger import DeliveryReport, IdentityChanged, SignalMessenger, deliver
from sandbox import SandboxServer, SandboxState
from sandbox.models import Persona, safety_number
from tests.sandbox.conftest import running_bot

BOT_NUMBER = "+12025550100"


@pytest.fixture
async def world() -> AsyncIterator[tuple[SandboxState, SignalMessenger, SandboxServer]]:
    server = SandboxServer(SandboxState(bot_number=BOT_NUMBER))
    await server.start()
    try:
        async with running_bot(server) as bot:
            yield server.state, SignalMessenger(bot), server
    finally:
        await server.stop()


def _listed_safety_number(state: SandboxState, persona: Persona) -> str:
    """What the sandbox's identity list shows for that persona right now."""
    return safety_number(state.bot_uuid, state.bot_identity_key, persona.uuid, persona.identity_key)


async def _texts_to(state: SandboxState, persona: Persona) -> list[str | None]:
    return [d.text for d in state.deliveries(persona=persona.uuid)]


async def test_send_text_raises_identity_changed_after_key_change(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    await messenger.send_text(ana.uuid, "before")
    assert await _texts_to(state, ana) == ["before"]

    state.change_identity(ana.uuid)
    with pytest.raises(IdentityChanged) as raised:
        await messenger.send_text(ana.uuid, "after")
    assert ana.uuid not in str(raised.value) and "after" not in str(raised.value)
    assert isinstance(raised.value.__cause__, SendError)
    assert await _texts_to(state, ana) == ["before"]


async def test_deliver_reports_which_accounts_changed_identity(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    ben = state.create_persona("Ben", hidden_number=True)
    state.change_identity(ana.uuid)
    items = [
        Outgoing(ana.uuid, timer_seconds=3600),
        Outgoing(ana.uuid, text="first"),
        Outgoing(ben.uuid, text="to ben"),
        Outgoing(ana.uuid, text="second"),
    ]
    with capture_logs() as logs:
        report = await deliver(messenger, items)

    assert report == DeliveryReport(failed=2, identity_changed={ana.uuid})
    assert await _texts_to(state, ben) == ["to ben"]
    assert await _texts_to(state, ana) == []
    # logs name the error type only: no account, no text
    assert [entry.get("error_type") for entry in logs] == ["IdentityChanged"]
    assert all(set(entry) <= {"event", "log_level", "error_type"} for entry in logs)


async def test_other_send_failures_are_not_identity_changes(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    state.faults.update(recipient_failures={ana.uuid: "UNREGISTERED_FAILURE"})
    with pytest.raises(SendError):  # also a 400 upstream, but the key is still trusted
        await messenger.send_text(ana.uuid, "hello")
    report = await deliver(messenger, [Outgoing(ana.uuid, text="hello")])
    assert report == DeliveryReport(failed=1, identity_changed=set())


async def test_rate_limit_is_not_reported_as_identity_change(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    state.change_identity(ana.uuid)
    state.faults.update(captcha_required=True)  # 429 comes first: retry later, no quarantine
    with pytest.raises(SendError) as raised:
        await messenger.send_text(ana.uuid, "hello")
    assert "429" in str(raised.value)
    state.faults.clear()
    with pytest.raises(IdentityChanged):
        await messenger.send_text(ana.uuid, "hello")


async def test_identity_shows_new_untrusted_safety_number_after_change(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    chris = state.create_persona("Chris", hidden_number=True)  # number "" in the list
    before = await messenger.identity(chris.uuid)
    assert before is not None and before.trusted
    assert before.safety_number == _listed_safety_number(state, chris)
    untouched = await messenger.identity(ana.uuid)

    state.change_identity(chris.uuid)
    messenger.forget_identities()  # the list is kept for a moment: read it again now
    after = await messenger.identity(chris.uuid)
    assert after is not None
    assert after.trusted is False
    assert after.safety_number != before.safety_number
    assert after.fingerprint != before.fingerprint
    assert after.safety_number == _listed_safety_number(state, chris)
    assert await messenger.identity(ana.uuid) == untouched
    assert await messenger.identity("00000000-0000-4000-8000-000000000000") is None


async def test_trusting_the_new_safety_number_lets_sends_through_again(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    state.change_identity(ana.uuid)
    changed = await messenger.identity(ana.uuid)
    assert changed is not None and not changed.trusted

    await messenger.trust(ana.uuid, changed.safety_number)
    trusted = await messenger.identity(ana.uuid)
    assert trusted is not None and trusted.trusted
    assert trusted.safety_number == changed.safety_number
    await messenger.send_text(ana.uuid, "welcome back")
    report = await deliver(messenger, [Outgoing(ana.uuid, text="again")])
    assert report == DeliveryReport()
    assert await _texts_to(state, ana) == ["welcome back", "again"]


async def test_trusting_a_stale_safety_number_does_not(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    original = await messenger.identity(ana.uuid)
    state.change_identity(ana.uuid)
    checked_in_person = await messenger.identity(ana.uuid)
    state.change_identity(ana.uuid)  # the key changed again before the organizer trusted it
    assert original is not None and checked_in_person is not None

    for stale in (original.safety_number, checked_in_person.safety_number):
        with pytest.raises(TrustRejected) as raised:
            await messenger.trust(ana.uuid, stale)
        assert ana.uuid not in str(raised.value) and stale not in str(raised.value)
    current = await messenger.identity(ana.uuid)
    assert current is not None and not current.trusted
    with pytest.raises(IdentityChanged):
        await messenger.send_text(ana.uuid, "still blocked")
    assert await _texts_to(state, ana) == []


async def test_identity_client_auto_mode_falls_back_to_http_like_signalbot(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, _, server = world
    ana = state.create_persona("Ana")
    client = IdentityClient(server.url, BOT_NUMBER, connection_mode="auto")
    found = await client.identity(ana.uuid)
    assert found is not None and found.safety_number == _listed_safety_number(state, ana)

    with pytest.raises(ValueError, match="UUID"):
        await client.identity("ana/../../v1/about")
    wrong_account = IdentityClient(server.url, "+12025550199", connection_mode="http_only")
    with pytest.raises(IdentityError) as raised:
        await wrong_account.identity(ana.uuid)
    assert raised.value.status == 500  # upstream's answer for an unknown account


async def test_identity_list_is_read_once_for_many_lookups_in_its_window(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    """signal-cli-rest-api lists every identity at once: a reveal to many people must not
    fetch that (network-sized) list once per person."""
    state, messenger, _ = world
    people = [state.create_persona(f"P{i}") for i in range(20)]
    api = messenger._api
    calls: list[str] = []
    original = api._request

    async def counting(
        method: str, path: str, payload: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        calls.append(path)
        return await original(method, path, payload, **kwargs)

    api._request = counting  # type: ignore[method-assign]
    for person in people:
        assert await messenger.identity(person.uuid) is not None
    assert len(calls) == 1
    messenger.forget_identities()
    assert await messenger.identity(people[0].uuid) is not None
    assert len(calls) == 2


async def test_a_key_changed_inside_the_window_still_fails_the_send(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    """The kept list says "trusted", but signal-cli refuses the send, and the bot reads
    the list afresh to tell an identity change from other failures."""
    state, messenger, _ = world
    ana = state.create_persona("Ana")
    seen = await messenger.identity(ana.uuid)
    assert seen is not None and seen.trusted
    state.change_identity(ana.uuid)
    with pytest.raises(IdentityChanged):
        await messenger.send_text(ana.uuid, "the place is 12 Oak St")


class SlowList:
    """Count reads of the identity list and make each take ``seconds``."""

    def __init__(self, client: IdentityClient, seconds: float) -> None:
        self.reads = 0
        self.seconds = seconds
        self.gate: asyncio.Event | None = None
        original = client._request

        async def slow(method: str, path: str, payload: Any = None, **kwargs: Any) -> Any:
            if not (path.startswith("/v1/identities/") and method == "GET"):
                return await original(method, path, payload, **kwargs)
            self.reads += 1
            await asyncio.sleep(self.seconds)
            answer = await original(method, path, payload, **kwargs)
            if self.gate is not None:  # read, but not yet back
                await self.gate.wait()
            return answer

        client._request = slow  # type: ignore[method-assign]


async def test_after_the_first_read_no_lookup_waits_for_the_identity_list(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    """The list grows with the network (~30 MB at 100,000 people): lookups answer from
    the last read and the next read happens in the background."""
    state, _, server = world
    ana = state.create_persona("Ana")
    client = IdentityClient(server.url, BOT_NUMBER, list_seconds=0.05)
    slow = SlowList(client, 0.0)
    assert await client.identity(ana.uuid) is not None  # the first read: waited for
    await asyncio.sleep(0.1)  # the list is due again
    slow.seconds = 0.3
    began = time.monotonic()
    for _ in range(20):
        assert await client.identity(ana.uuid) is not None
    assert time.monotonic() - began < 0.1  # none waited for the 0.3 s read
    assert client._refresh is not None
    await client._refresh
    assert slow.reads == 2  # one read in the background for all twenty


async def test_the_identity_list_is_read_less_often_the_longer_a_read_takes(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    state, _, server = world
    ana = state.create_persona("Ana")
    client = IdentityClient(server.url, BOT_NUMBER, list_seconds=0.05)
    slow = SlowList(client, 0.2)  # so the next read waits 20 x 0.2 = 4 s
    await client.identity(ana.uuid)
    await asyncio.sleep(0.3)
    await client.identity(ana.uuid)
    assert client._refresh is None and slow.reads == 1


async def test_someone_new_since_the_last_read_is_looked_up_afresh(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    """A person who just joined is not in the kept list: their key is pinned at join."""
    state, _, server = world
    ana = state.create_persona("Ana")
    client = IdentityClient(server.url, BOT_NUMBER, list_seconds=0.05)
    SlowList(client, 0.2)  # a slow list is read rarely, but not for a newcomer
    await client.identity(ana.uuid)
    await asyncio.sleep(0.1)
    ben = state.create_persona("Ben")
    found = await client.identity(ben.uuid)
    assert found is not None and found.safety_number == _listed_safety_number(state, ben)


async def test_a_read_begun_before_a_failed_send_is_not_kept(
    world: tuple[SandboxState, SignalMessenger, SandboxServer],
) -> None:
    """A background read that started before a key change was noticed must not put the
    old "trusted" back: the next lookup reads afresh."""
    state, _, server = world
    ana = state.create_persona("Ana")
    client = IdentityClient(server.url, BOT_NUMBER, list_seconds=0.05)
    await client.identity(ana.uuid)
    await asyncio.sleep(0.1)
    slow = SlowList(client, 0.0)
    slow.gate = asyncio.Event()
    await client.identity(ana.uuid)  # starts the background read, held at the gate
    await asyncio.sleep(0.05)
    state.change_identity(ana.uuid)
    client.forget_identities()  # a send to Ana just failed on her key
    slow.gate.set()
    assert client._refresh is not None
    await client._refresh
    slow.gate = None
    current = await client.identity(ana.uuid)
    assert current is not None and not current.trusted
