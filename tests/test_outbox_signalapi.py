"""bot.signalapi against the sandbox: every answer of /v2/send and rate-limit-challenge
becomes the right typed error (the outbox's decisions hang on it), with nothing personal
in any message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from signalbot.messages import SendError

from bot.signalapi import (
    ChallengeRejected,
    IdentityChanged,
    RateLimited,
    RecipientFailed,
    SignalAPI,
    Unavailable,
)
from sandbox import SandboxServer, SandboxState

BOT = "+12025550100"
LINK = "signalcaptcha://signal-hcaptcha.5fad97ac-7d06-4e44-b18a-b950b20148ff.challenge.P1_eyJ0eXAi"


@pytest.fixture
async def world() -> AsyncIterator[tuple[SandboxState, SignalAPI]]:
    server = SandboxServer(SandboxState(bot_number=BOT))
    await server.start()
    try:
        yield server.state, SignalAPI(server.url, BOT)
    finally:
        await server.stop()


async def test_signalapi_send_returns_signals_timestamp(
    world: tuple[SandboxState, SignalAPI],
) -> None:
    state, api = world
    ana = state.create_persona("Ana")
    stamp = await api.send(ana.uuid, "hello")
    [delivered] = state.deliveries(persona=ana.uuid)
    assert stamp == delivered.timestamp and delivered.text == "hello"


async def test_signalapi_classifies_every_failure(world: tuple[SandboxState, SignalAPI]) -> None:
    state, api = world
    ana = state.create_persona("Ana")
    ben = state.create_persona("Ben", hidden_number=True)
    caught: list[SendError] = []

    state.faults.update(rate_limit_per_second=0.001, rate_limit_burst=1)
    await api.send(ana.uuid, "one")
    with pytest.raises(RateLimited) as plain:
        await api.send(ana.uuid, "two")
    assert plain.value.challenge is None and plain.value.challenge_tokens == [""]
    caught.append(plain.value)
    state.faults.clear()

    state.faults.update(captcha_required=True)
    with pytest.raises(RateLimited) as captcha:
        await api.send(ben.uuid, "three")
    assert captcha.value.challenge == state.faults.captcha_token
    caught.append(captcha.value)
    with pytest.raises(ChallengeRejected):
        await api.submit_challenge("not-the-token", LINK)
    token = state.faults.captcha_token
    assert token is not None
    await api.submit_challenge(token, LINK)
    assert not state.faults.captcha_required

    state.change_identity(ana.uuid)
    with pytest.raises(IdentityChanged) as changed:
        await api.send(ana.uuid, "four")
    caught.append(changed.value)

    with pytest.raises(RecipientFailed) as unregistered:
        await api.send("00000000-0000-4000-8000-000000000001", "five")
    assert unregistered.value.unregistered
    caught.append(unregistered.value)

    state.faults.update(recipient_failures={ben.uuid: "NETWORK_FAILURE"})
    with pytest.raises(RecipientFailed) as network:
        await api.send(ben.uuid, "six")
    assert network.value.reason == "failed" and not network.value.unregistered
    caught.append(network.value)
    state.faults.clear()

    state.faults.update(fail_next=1, fail_status=503)
    with pytest.raises(Unavailable) as down:
        await api.send(ben.uuid, "seven")
    assert down.value.status == 503
    caught.append(down.value)

    for error in caught:  # signalbot callers still catch them; nothing personal inside
        assert isinstance(error, SendError) and isinstance(error.__cause__, SendError)
        shown = str(error) + repr(error) + str(error.__cause__)
        assert ana.uuid not in shown and ben.uuid not in shown and "00000000" not in shown
        assert not any(word in shown for word in ("one", "two", "three", "four", "seven"))


async def test_signalapi_nothing_listening_is_unavailable() -> None:
    api = SignalAPI("127.0.0.1:9", BOT, timeout_seconds=2)
    with pytest.raises(Unavailable) as down:
        await api.send("00000000-0000-4000-8000-000000000002", "hello")
    assert down.value.status is None
    with pytest.raises(Unavailable):
        await api.submit_challenge("token", LINK)


async def test_signalapi_refuses_accounts_that_are_not_uuids_or_numbers() -> None:
    api = SignalAPI("127.0.0.1:9", BOT)
    with pytest.raises(ValueError, match="UUID or an E"):
        await api.send("../v1/groups", "x")
