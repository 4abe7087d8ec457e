"""The control API, driven through SandboxClient as an out-of-process test would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from signalbot import DataMessageHandler, SendMessage
from signalbot.context import DataMessageContext

from sandbox import SandboxClient, SandboxServer, SandboxState
from sandbox.client import SandboxError
from tests.sandbox.conftest import BOT_NUMBER, running_bot


@pytest.fixture
async def client(server: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(server.base_url) as c:
        yield c


class Echo(DataMessageHandler):
    async def handle_data_message(self, context: DataMessageContext) -> None:
        await context.send(SendMessage(text=f"echo: {context.message.text}"))


async def test_client_personas_are_created_and_listed(client: SandboxClient) -> None:
    ana = await client.create_persona("Ana")
    ben = await client.create_persona("Ben", hidden_number=True)
    assert ana.number is not None and ben.number is None
    assert [p.uuid for p in await client.personas()] == [ana.uuid, ben.uuid]


async def test_client_drives_signalbot_end_to_end(
    server: SandboxServer, client: SandboxClient
) -> None:
    await client.create_persona("Ana")
    await client.create_persona("Ben", hidden_number=True)
    group = await client.create_group("Cell", ["Ana", "Ben"])
    async with running_bot(server, Echo()):
        await client.wait_for_receiver(timeout=5)
        await client.send_text("Ana", "hi")
        [reply] = await client.wait_for_deliveries("Ana", 1)
        assert reply.text == "echo: hi"
        await client.send_text("Ben", "all", group_id=group["id"])
        replies = await client.wait_for_deliveries(None, 2, since=reply.seq)
        assert {d.recipient for d in replies} == {group["id"]}
        await client.react("Ben", "👍", reply.timestamp)


async def test_client_send_text_without_receiver_is_lost(
    server: SandboxServer, client: SandboxClient
) -> None:
    await client.create_persona("Ana")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.base_url}/sandbox/messages", json={"persona": "Ana", "text": "anyone?"}
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 201
    assert body["delivered_to_receivers"] == 0


async def test_client_wait_for_deliveries_long_polls_until_bot_sends(
    server: SandboxServer, client: SandboxClient, state: SandboxState
) -> None:
    ana = await client.create_persona("Ana")

    async def bot_sends_later() -> None:
        await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as http:
            body = {"number": BOT_NUMBER, "recipients": [ana.uuid], "message": "late"}
            async with http.post(f"{server.base_url}/v2/send", data=json.dumps(body)) as r:
                assert r.status == 201

    task = asyncio.create_task(bot_sends_later())
    [d] = await client.wait_for_deliveries("Ana", 1, timeout=3)
    await task
    assert d.text == "late"
    assert d.seq == state.last_seq


async def test_client_wait_for_deliveries_timeout_lists_arrivals(
    client: SandboxClient, state: SandboxState
) -> None:
    ana = await client.create_persona("Ana")
    state.record_delivery(
        timestamp=1,
        recipient=ana.uuid,
        persona=ana.uuid,
        text="only one",
        expires_in_seconds=0,
        quote_timestamp=None,
    )
    with pytest.raises(TimeoutError, match="only one"):
        await client.wait_for_deliveries("Ana", 2, timeout=0.3)


async def test_client_faults_are_set_read_and_cleared(client: SandboxClient) -> None:
    await client.set_faults(rate_limit_per_second=2, rate_limit_burst=3, latency_ms=5)
    faults = await client.faults()
    assert (faults["rate_limit_per_second"], faults["latency_ms"]) == (2, 5)
    with pytest.raises(SandboxError, match="unknown fault settings"):
        await client.set_faults(explode=True)
    with pytest.raises(SandboxError, match="fail_probability"):
        await client.set_faults(fail_probability=2)
    await client.clear_faults()
    assert (await client.faults())["rate_limit_per_second"] is None


async def test_client_unknown_persona_is_404(client: SandboxClient) -> None:
    with pytest.raises(SandboxError) as caught:
        await client.send_text("Nobody", "hi")
    assert caught.value.status == 404


async def test_client_identity_change_and_websocket_drop(
    server: SandboxServer, client: SandboxClient
) -> None:
    ana = await client.create_persona("Ana")
    changed = await client.change_identity("Ana")
    assert changed.identity_status == "UNTRUSTED" and changed.uuid == ana.uuid
    async with running_bot(server, Echo()):
        assert await client.drop_websocket() == 1
        await client.wait_for_receiver(timeout=8)


async def test_receive_side_down_for_a_while_answers_502_then_accepts(
    server: SandboxServer, client: SandboxClient, state: SandboxState
) -> None:
    assert await client.drop_websocket(down_seconds=0.6) == 0  # nobody was connected
    assert 0 < state.receive_down_for <= 0.6
    url = f"{server.base_url}/v1/receive/{BOT_NUMBER}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as refused:
            assert refused.status == 502
        await asyncio.sleep(0.7)
        async with session.ws_connect(url) as ws:
            assert not ws.closed
            assert state.receive_down_for == 0
    with pytest.raises(SandboxError, match="down_seconds"):
        await client.drop_websocket(down_seconds="soon")  # type: ignore[arg-type]


async def test_client_reset_forgets_the_world(client: SandboxClient, state: SandboxState) -> None:
    await client.create_persona("Ana")
    await client.set_faults(latency_ms=10)
    await client.reset()
    assert await client.personas() == []
    assert state.faults.latency_ms == 0 and state.groups == {}


async def test_control_overview_and_bad_input(server: SandboxServer) -> None:
    async with aiohttp.ClientSession(base_url=server.base_url) as http:
        async with http.get("/sandbox") as resp:
            overview = await resp.json()
        async with http.post("/sandbox/personas", data="[1]") as resp:
            bad = (resp.status, await resp.json())
        async with http.get("/sandbox/no-such-route") as resp:
            missing = resp.status
    assert overview["bot_number"] == BOT_NUMBER
    assert bad[0] == 400 and "JSON object" in bad[1]["error"]
    assert missing == 404
