"""Fixtures for the sandbox tests: a running sandbox, raw HTTP to it, and a real signalbot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft4Validator
from signalbot import SignalBot
from signalbot._client import SignalAPI
from signalbot.handlers import AnyHandler

from sandbox import SandboxServer, SandboxState, schema

BOT_NUMBER = "+12025550100"


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(bot_number=BOT_NUMBER)


@pytest.fixture
async def server(state: SandboxState) -> AsyncIterator[SandboxServer]:
    srv = SandboxServer(state)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def http(server: SandboxServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.base_url) as session:
        yield session


@pytest.fixture
async def signal_api(server: SandboxServer) -> AsyncIterator[SignalAPI]:
    """signalbot's own HTTP client pointed at the sandbox: parses every body it gets."""
    api = SignalAPI(server.url, BOT_NUMBER, download_attachments=True, connection_mode="http_only")  # type: ignore[arg-type]
    try:
        yield api
    finally:
        await api.close()


def documented_schema(method: str, route: str, status: int) -> dict[str, Any] | None:
    """The response schema upstream's swagger documents for this route and status."""
    responses = schema.document()["paths"][route][method.lower()]["responses"]
    entry = responses.get(str(status))
    return None if entry is None else entry.get("schema")


def assert_contract(method: str, route: str, status: int, body: Any) -> None:
    """Validate a response body against the swagger of that route (and signalbot's model).

    Error statuses the swagger leaves out (404s, 429) are held to upstream's error shapes;
    /v2/send's 201 is an array of the documented object (one per batch, Gotcha 3).
    """
    documented = documented_schema(method, route, status)
    if documented is None:
        assert status >= 400, f"{method} {route} {status} is not a documented success"
        name = "api.SendMessageError" if status == 429 else "api.Error"
        documented = {"$ref": f"#/definitions/{name}"}
    if route == "/v2/send" and status == 400:
        documented = {"$ref": "#/definitions/api.Error"}  # upstream's 400s carry only "error"
    ref = documented.get("$ref") or (documented.get("items") or {}).get("$ref")
    if ref is None:
        Draft4Validator(documented).validate(body)
        return
    definition = ref.rsplit("/", 1)[-1]
    if isinstance(body, list):
        schema.check_list(definition, body)
    else:
        schema.check(definition, body)


async def call(
    http: aiohttp.ClientSession,
    method: str,
    route: str,
    path: str,
    body: Any = None,
    *,
    expect: int,
) -> Any:
    """Request with a text/plain JSON body like signalbot; check status and contract."""
    data = None if body is None else __import__("json").dumps(body)
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    async with http.request(method, path, data=data, headers=headers) as resp:
        raw = await resp.read()
        assert resp.status == expect, f"{method} {path}: {resp.status} {raw[:300]!r}"
        if not raw:
            return None
        parsed = await resp.json(content_type=None)
    if parsed is not None and resp.content_type == "application/json":
        assert_contract(method, route, resp.status, parsed)
    return parsed


@contextlib.asynccontextmanager
async def running_bot(server: SandboxServer, *handlers: AnyHandler) -> AsyncIterator[SignalBot]:
    """An unmodified SignalBot against the sandbox, torn down without stopping the loop."""
    logging.getLogger("signalbot").setLevel(logging.WARNING)
    bot = SignalBot(
        {
            "phone_number": server.state.bot_number,
            "signal_service": server.url,
            "connection_mode": "http_only",
            "storage": {"type": "in-memory"},
        }
    )
    for handler in handlers:
        bot.register(handler)
    bot.start(run_forever=False)
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await server.state.wait_for_receiver(timeout=10)
        yield bot
    finally:
        await bot._pipeline.stop()
        if bot.init_task is not None and not bot.init_task.done():
            bot.init_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot.init_task
        await bot.close()
