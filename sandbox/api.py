"""The emulated signal-cli-rest-api 0.101 (json-rpc mode): routing, faults, core routes.

Only what signalbot 2.2 uses (plus what a bot needs to handle its failures) is emulated;
docs/sandbox.md lists what is not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from sandbox import api_directory, api_groups, api_messages, control, sending
from sandbox.httputil import STATE_KEY, read_json, respond, state_of
from sandbox.state import SandboxState

log = logging.getLogger("sandbox")

ABOUT = {
    "versions": ["v1", "v2"],
    "build": 2,
    "mode": "json-rpc",
    "version": "0.101",
    "capabilities": {"v2/send": ["quotes", "mentions"]},
}
CONTROL_PREFIX = "/sandbox"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_name(request: web.Request) -> str:
    """The route pattern, never the concrete path: paths carry phone numbers."""
    info = request.match_info
    resource = info.route.resource if info.route is not None else None
    return resource.canonical if resource is not None else "<unmatched>"


@web.middleware
async def log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One DEBUG line per request with method, route pattern and status, nothing else."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.debug("%s %s %s", request.method, _route_name(request), status)


@web.middleware
async def gin_not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gin answers unknown routes and wrong methods alike with a plain-text 404."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if request.path.startswith(CONTROL_PREFIX):
            raise
        return web.Response(status=404, text="404 page not found")


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency and 5xx faults apply to the emulated API only, never to the control API."""
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    faults = state_of(request).faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.should_fail(request.path):
        return web.json_response(
            {"error": "sandbox: injected server error"}, status=faults.fail_status
        )
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def about(request: web.Request) -> web.Response:
    return respond(sending.Reply(200, dict(ABOUT)), "client.About")


async def send_v2(request: web.Request) -> web.Response:
    body = await read_json(request)
    reply = sending.send_v2(state_of(request), body)
    if reply.status == 201:
        return web.json_response(reply.body, status=201)  # validated in sending
    definition = "api.SendMessageError" if reply.status == 429 else "api.Error"
    return respond(reply, definition)


class _WebSocketReceiver:
    """Adapter between the state's receiver protocol and one aiohttp websocket."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, account: str) -> None:
        self.ws = ws
        self.account = account
        self._transport = request.transport

    async def send_text(self, data: str) -> None:
        if self.ws.closed:
            raise ConnectionError("receiver closed")
        await self.ws.send_str(data)

    async def drop(self, *, clean: bool) -> None:
        """Abort like upstream's gorilla Close() (no close frame), or close with 1000."""
        if clean:
            await self.ws.close(code=1000)
        elif self._transport is not None:
            self._transport.abort()


async def receive(request: web.Request) -> web.StreamResponse:
    """json-rpc mode: a websocket that streams frames for this account; nothing is queued."""
    state = state_of(request)
    if state.receive_down_for > 0:
        # the service behind the proxy is restarting: the proxy answers, nothing upgrades
        return web.Response(status=502, text="502 Bad Gateway")
    ws = web.WebSocketResponse(heartbeat=54.0)
    if not ws.can_prepare(request).ok:
        return respond(
            sending.error(
                "websocket: the client is not using the websocket protocol: "
                "'upgrade' token not found in 'Connection' header"
            )
        )
    await ws.prepare(request)
    receiver = _WebSocketReceiver(ws, request, request.match_info["number"])
    state.add_receiver(receiver)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        state.remove_receiver(receiver)
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/health", health)
    app.router.add_get("/v1/about", about)
    app.router.add_get("/v1/receive/{number}", receive)
    app.router.add_post("/v2/send", send_v2)
    api_messages.add_routes(app)
    api_directory.add_routes(app)
    api_groups.add_routes(app)


def build_app(state: SandboxState) -> web.Application:
    """The full server app: emulated API plus control API, sharing one state."""
    app = web.Application(middlewares=[log_requests, gin_not_found, inject_faults])
    app[STATE_KEY] = state
    add_routes(app)
    control.add_routes(app)
    return app
