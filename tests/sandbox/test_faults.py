"""Each injected fault behaves like the upstream failure it stands for, and can be lifted."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from signalbot import DataMessageHandler, SendMessage
from signalbot._client import SignalAPI
from signalbot._client.messages import SendError
from signalbot._generated import SendMessageV2
from signalbot.context import DataMessageContext

from sandbox import SandboxServer, SandboxState
from tests.sandbox.conftest import BOT_NUMBER, call, running_bot

N = BOT_NUMBER


async def _send(http: aiohttp.ClientSession, recipients: list[str], *, expect: int) -> object:
    body = {"number": N, "recipients": recipients, "message": "hello"}
    return await call(http, "POST", "/v2/send", "/v2/send", body, expect=expect)


async def test_rate_limit_answers_429_then_recovers_when_bucket_refills(
    http: aiohttp.ClientSession, state: SandboxState, signal_api: SignalAPI
) -> None:
    ana = state.create_persona("Ana")
    state.faults.update(rate_limit_per_second=2, rate_limit_burst=2)
    await _send(http, [ana.uuid], expect=201)
    await _send(http, [ana.uuid], expect=201)
    limited = await _send(http, [ana.uuid], expect=429)
    assert limited == {"error": limited["error"], "challenge_tokens": [""], "account": N}
    assert "rate-limit-challenge" in limited["error"]
    with pytest.raises(SendError, match="429"):
        await signal_api.messages.send(
            SendMessageV2(number=N, recipients=[ana.uuid], message="again")
        )
    await asyncio.sleep(0.6)  # 2/s refills one token in 0.5 s
    await _send(http, [ana.uuid], expect=201)
    assert len(state.deliveries()) == 3


async def test_recipient_failures_are_reported_per_recipient_in_201(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana, ben, cat = (state.create_persona(n) for n in ("Ana", "Ben", "Cat"))
    hidden = state.create_persona("Dee", hidden_number=True)
    state.faults.update(
        recipient_failures={
            ben.uuid: "UNREGISTERED_FAILURE",
            cat.uuid: "RATE_LIMIT_FAILURE",
            hidden.uuid: "IDENTITY_FAILURE",
        }
    )
    [resp] = await _send(http, [ana.uuid, ben.uuid, cat.number, hidden.uuid], expect=201)
    reasons = {e["uuid"]: e["reason"] for e in resp["errors"]["recipients"]}
    assert reasons == {
        ben.uuid: "UNREGISTERED_FAILURE",
        cat.uuid: "RATE_LIMIT_FAILURE",
        hidden.uuid: "IDENTITY_FAILURE",
    }
    assert "number" not in next(e for e in resp["errors"]["recipients"] if e["uuid"] == hidden.uuid)
    assert [d.persona for d in state.deliveries()] == [ana.uuid]


@pytest.mark.parametrize(
    ("reason", "status", "error_part"),
    [
        ("UNREGISTERED_FAILURE", 400, "Failed to send message"),
        ("IDENTITY_FAILURE", 400, "untrusted recipient keys"),
        ("RATE_LIMIT_FAILURE", 429, "rate limiting"),
    ],
)
async def test_recipient_failures_of_every_recipient_fail_the_request(
    http: aiohttp.ClientSession,
    state: SandboxState,
    reason: str,
    status: int,
    error_part: str,
) -> None:
    ana = state.create_persona("Ana")
    state.faults.update(recipient_failures={"ana": reason})  # any persona key works
    got = await _send(http, [ana.uuid], expect=status)
    assert isinstance(got, dict)
    assert error_part in got["error"]
    assert state.deliveries() == []


async def test_captcha_blocks_sends_until_challenge_is_submitted(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    state.faults.update(captcha_required=True)
    limited = await _send(http, [ana.uuid], expect=429)
    [token] = limited["challenge_tokens"]
    assert token == state.faults.captcha_token
    route = "/v1/accounts/{number}/rate-limit-challenge"
    path = f"/v1/accounts/{N}/rate-limit-challenge"
    await call(http, "POST", route, path, {"challenge_token": "wrong", "captcha": "x"}, expect=400)
    await call(http, "POST", route, path, {"challenge_token": token, "captcha": ""}, expect=400)
    await _send(http, [ana.uuid], expect=429)
    await call(
        http,
        "POST",
        route,
        path,
        {"challenge_token": token, "captcha": "signalcaptcha://solved"},
        expect=204,
    )
    await _send(http, [ana.uuid], expect=201)


async def test_server_errors_on_next_k_requests_then_healthy(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    state.faults.update(fail_next=2, fail_status=503, fail_path_prefix="/v2/send")
    await call(http, "GET", "/v1/about", "/v1/about", expect=200)  # other routes unaffected
    for _ in range(2):
        async with http.post("/v2/send", data="{}") as resp:
            assert resp.status == 503
    await _send(http, [ana.uuid], expect=201)


async def test_server_errors_with_seeded_probability_are_reproducible(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    async def pattern() -> list[int]:
        state.faults.update(fail_probability=0.5, seed=42)
        out = []
        for _ in range(12):
            async with http.get("/v1/health") as resp:
                out.append(resp.status)
        return out

    first = await pattern()
    assert set(first) == {204, 500}
    assert await pattern() == first


async def test_latency_delays_api_but_not_control(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    state.faults.update(latency_ms=250)
    started = time.monotonic()
    await call(http, "GET", "/v1/health", "/v1/health", expect=204)
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    async with http.get("/sandbox/faults") as resp:
        assert resp.status == 200
    assert time.monotonic() - started < 0.2


class Echo(DataMessageHandler):
    async def handle_data_message(self, context: DataMessageContext) -> None:
        await context.send(SendMessage(text=f"echo: {context.message.text}"))


async def test_websocket_drop_loses_messages_until_signalbot_reconnects(
    server: SandboxServer, state: SandboxState
) -> None:
    state.create_persona("Ana")
    async with running_bot(server, Echo()):
        assert await state.drop_receivers() == 1
        lost = await state.inject_text_detailed("Ana", "while away")
        assert lost.delivered_to_receivers == 0
        await state.wait_for_receiver(timeout=8)  # signalbot backs off ~1 s, then reconnects
        await state.inject_text("Ana", "back")
        [reply] = await state.wait_for_deliveries("Ana", 1)
        assert reply.text == "echo: back"
        await asyncio.sleep(0.1)
        assert [d.text for d in state.deliveries()] == ["echo: back"]


async def test_identity_change_fails_sends_until_trusted(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    old = await call(http, "GET", "/v1/identities/{number}", f"/v1/identities/{N}", expect=200)
    state.change_identity("Ana")
    [entry] = await call(http, "GET", "/v1/identities/{number}", f"/v1/identities/{N}", expect=200)
    assert entry["status"] == "UNTRUSTED"
    assert entry["fingerprint"] != old[0]["fingerprint"]
    got = await _send(http, [ana.uuid], expect=400)
    assert got == {"error": "Unable to complete request due to untrusted recipient keys"}

    route = "/v1/identities/{number}/trust/{numberToTrust}"
    path = f"/v1/identities/{N}/trust/{ana.number}"
    await call(http, "PUT", route, path, {"verified_safety_number": "1" * 60}, expect=400)
    await call(http, "PUT", route, path, {}, expect=400)
    await call(
        http, "PUT", route, path, {"verified_safety_number": entry["safety_number"]}, expect=204
    )
    [entry] = await call(http, "GET", "/v1/identities/{number}", f"/v1/identities/{N}", expect=200)
    assert entry["status"] == "TRUSTED_VERIFIED"
    await _send(http, [ana.uuid], expect=201)

    state.change_identity(ana.uuid)
    await call(
        http,
        "PUT",
        route,
        f"/v1/identities/{N}/trust/{ana.uuid}",
        {"trust_all_known_keys": True},
        expect=204,
    )
    await _send(http, [ana.uuid], expect=201)
