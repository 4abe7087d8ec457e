"""HTTP helpers shared by the emulated API and the control API."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox import schema
from sandbox.sending import INVALID_REQUEST, NO_ACCOUNT, Reply
from sandbox.state import SandboxState

STATE_KEY: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)


def state_of(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


async def read_json(request: web.Request) -> Any:
    """Parse the body as JSON whatever its content type (signalbot sends text/plain).

    Returns the sentinel ``INVALID`` when the body is not JSON, like gin's BindJSON failing.
    """
    raw = await request.text()
    try:
        return json.loads(raw)
    except ValueError:
        return INVALID


class _Invalid:
    """Marker for an unparsable body."""


INVALID: Any = _Invalid()


async def read_object(request: web.Request, definition: str) -> dict[str, Any] | None:
    """Bind a JSON object with Go's leniency: missing fields are zero values, wrong types fail."""
    body = await read_json(request)
    if not isinstance(body, dict):
        return None
    if schema.schema_errors(definition, body, ignore_required=True):
        return None
    return {k: v for k, v in body.items() if v is not None}


def respond(reply: Reply, definition: str | None = None) -> web.Response:
    """Serialise a Reply; bodies are checked against the upstream contract on the way out."""
    if reply.body is None:
        return web.Response(status=reply.status)
    if definition is not None:
        schema.check(definition, reply.body)
    elif isinstance(reply.body, dict) and set(reply.body) == {"error"}:
        schema.check("api.Error", reply.body)
    return web.json_response(reply.body, status=reply.status)


def fail(message: str, status: int = 400) -> web.Response:
    return respond(Reply(status, {"error": message}))


def invalid_request() -> web.Response:
    return fail(INVALID_REQUEST)


def no_content() -> web.Response:
    return web.Response(status=204)


def account_ok(request: web.Request) -> bool:
    return request.match_info.get("number") == state_of(request).bot_number


def no_account() -> web.Response:
    return fail(NO_ACCOUNT)


def json_list(items: list[Any], definition: str, status: int = 200) -> web.Response:
    schema.check_list(definition, items)
    return web.json_response(items, status=status)
