"""The control API under ``/sandbox``: how tests and the demo play the people around the bot.

Documented route by route in docs/sandbox.md; JSON in, JSON out, errors as
``{"error": "..."}`` with 400 (bad input) or 404 (unknown persona/group).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.httputil import INVALID, read_json, state_of
from sandbox.models import InjectResult
from sandbox.schema import ContractViolation
from sandbox.state import SandboxState

Handler = Callable[[web.Request], Awaitable[web.Response]]
log = logging.getLogger("sandbox")


class BadInput(Exception):
    """A control request the sandbox cannot act on (answered 400)."""


def _err(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


def guarded(handler: Handler) -> Handler:
    """Map lookup failures to 404 and bad input to 400, so handlers stay straight-line."""

    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except KeyError as exc:
            return _err(f"not found: {exc.args[0] if exc.args else exc}", 404)
        except (BadInput, ValueError, TypeError) as exc:
            return _err(str(exc), 400)
        except ContractViolation as exc:
            # The sandbox refused to emit something signalbot would drop: make it loud.
            # Details stay out of the log: they can quote message text.
            log.error("contract violation while emitting an envelope (see HTTP response)")
            return _err(f"contract violation: {exc}", 500)

    return wrapper


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is INVALID and not (await request.text()).strip():
        return {}
    if not isinstance(body, dict):
        raise BadInput("body must be a JSON object")
    return body


def _need(body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise BadInput(f"missing field {key!r}")
    return body[key]


def _int_query(request: web.Request, key: str, default: int) -> int:
    try:
        return int(request.query.get(key, default))
    except ValueError:
        raise BadInput(f"query parameter {key!r} must be an integer") from None


def _float_query(request: web.Request, key: str, default: float) -> float:
    try:
        return float(request.query.get(key, default))
    except ValueError:
        raise BadInput(f"query parameter {key!r} must be a number") from None


def _injected(result: InjectResult) -> web.Response:
    return web.json_response(
        {"timestamp": result.timestamp, "delivered_to_receivers": result.delivered_to_receivers},
        status=201,
    )


@guarded
async def overview(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response(
        {
            "bot_number": state.bot_number,
            "bot_uuid": state.bot_uuid,
            "receivers": state.receiver_count,
            "last_seq": state.last_seq,
            "personas": len(state.personas()),
            "groups": len(state.groups),
        }
    )


@guarded
async def create_persona(request: web.Request) -> web.Response:
    body = await _body(request)
    persona = state_of(request).create_persona(
        str(_need(body, "name")),
        hidden_number=bool(body.get("hidden_number", False)),
        number=body.get("number"),
        uuid=body.get("uuid"),
    )
    return web.json_response(persona.to_dict(), status=201)


@guarded
async def list_personas(request: web.Request) -> web.Response:
    return web.json_response([p.to_dict() for p in state_of(request).personas()])


@guarded
async def get_persona(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).persona(request.match_info["key"]).to_dict())


@guarded
async def change_identity(request: web.Request) -> web.Response:
    persona = state_of(request).change_identity(request.match_info["key"])
    return web.json_response(persona.to_dict())


def _attachments(body: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    out = []
    for item in body.get("attachments") or []:
        try:
            data = base64.b64decode(item["base64"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise BadInput("attachments need filename, content_type and valid base64") from None
        out.append(
            (
                item.get("filename", "file.bin"),
                item.get("content_type", "application/octet-stream"),
                data,
            )
        )
    return out


@guarded
async def inject_message(request: web.Request) -> web.Response:
    body = await _body(request)
    result = await state_of(request).inject_text_detailed(
        str(_need(body, "persona")),
        body.get("text"),
        group_id=body.get("group_id"),
        quote_timestamp=body.get("quote_timestamp"),
        attachments=_attachments(body),
    )
    return _injected(result)


@guarded
async def inject_reaction(request: web.Request) -> web.Response:
    body = await _body(request)
    result = await state_of(request).inject_reaction_detailed(
        str(_need(body, "persona")),
        str(_need(body, "emoji")),
        int(_need(body, "target_timestamp")),
        remove=bool(body.get("remove", False)),
        group_id=body.get("group_id"),
    )
    return _injected(result)


def _group_dict(state: SandboxState, internal_id: str) -> dict[str, Any]:
    g = state.groups[internal_id]
    return {
        "id": g.public_id,
        "internal_id": g.internal_id,
        "name": g.name,
        "members": list(g.members),
        "bot_is_member": g.bot_is_member,
        "expiration_seconds": g.expiration_seconds,
    }


@guarded
async def create_group(request: web.Request) -> web.Response:
    body = await _body(request)
    members = _need(body, "members")
    if not isinstance(members, list):
        raise BadInput("members must be a list of persona keys")
    state = state_of(request)
    group = state.create_group(
        str(_need(body, "name")),
        [str(m) for m in members],
        description=str(body.get("description", "")),
    )
    return web.json_response(_group_dict(state, group.internal_id), status=201)


@guarded
async def list_groups(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response([_group_dict(state, gid) for gid in state.groups])


@guarded
async def deliveries(request: web.Request) -> web.Response:
    """Long-polls with ``wait`` seconds until ``count`` (default 1) deliveries match."""
    state = state_of(request)
    persona = request.query.get("persona")
    since = _int_query(request, "since", 0)
    wait = _float_query(request, "wait", 0.0)
    count = _int_query(request, "count", 1)
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            await state.wait_for_deliveries(persona, count, since=since, timeout=min(wait, 60))
    found = state.deliveries(persona=persona, since=since)
    return web.json_response(
        {"deliveries": [d.to_dict() for d in found], "last_seq": state.last_seq}
    )


@guarded
async def actions(request: web.Request) -> web.Response:
    state = state_of(request)
    since = _int_query(request, "since", 0)
    return web.json_response(
        {"actions": [a.to_dict() for a in state.actions(since=since)], "last_seq": state.last_seq}
    )


@guarded
async def receiver(request: web.Request) -> web.Response:
    state = state_of(request)
    wait = _float_query(request, "wait", 0.0)
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            await state.wait_for_receiver(timeout=min(wait, 60))
    return web.json_response(
        {"connected": state.receiver_count, "down_for": round(state.receive_down_for, 3)}
    )


@guarded
async def drop_receivers(request: web.Request) -> web.Response:
    body = await _body(request)
    down = body.get("down_seconds", 0)
    if isinstance(down, bool) or not isinstance(down, int | float):
        raise BadInput("down_seconds must be a number")
    dropped = await state_of(request).drop_receivers(
        clean=bool(body.get("clean", False)), down_seconds=float(down)
    )
    return web.json_response({"dropped": dropped})


@guarded
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).faults.to_dict())


@guarded
async def set_faults(request: web.Request) -> web.Response:
    faults = state_of(request).faults
    faults.update(**await _body(request))
    return web.json_response(faults.to_dict())


@guarded
async def clear_faults(request: web.Request) -> web.Response:
    faults = state_of(request).faults
    faults.clear()
    return web.json_response(faults.to_dict())


@guarded
async def sent_attachment(request: web.Request) -> web.Response:
    filename, content_type, data = state_of(request).sent_attachments[request.match_info["id"]]
    return web.Response(body=data, content_type=content_type, headers={"X-Filename": filename})


@guarded
async def reset(request: web.Request) -> web.Response:
    state_of(request).reset()
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/sandbox", overview)
    r.add_post("/sandbox/personas", create_persona)
    r.add_get("/sandbox/personas", list_personas)
    r.add_get("/sandbox/personas/{key}", get_persona)
    r.add_post("/sandbox/personas/{key}/identity", change_identity)
    r.add_post("/sandbox/messages", inject_message)
    r.add_post("/sandbox/reactions", inject_reaction)
    r.add_post("/sandbox/groups", create_group)
    r.add_get("/sandbox/groups", list_groups)
    r.add_get("/sandbox/deliveries", deliveries)
    r.add_get("/sandbox/actions", actions)
    r.add_get("/sandbox/receiver", receiver)
    r.add_post("/sandbox/receiver/drop", drop_receivers)
    r.add_get("/sandbox/faults", get_faults)
    r.add_put("/sandbox/faults", set_faults)
    r.add_delete("/sandbox/faults", clear_faults)
    r.add_get("/sandbox/sent-attachments/{id}", sent_attachment)
    r.add_post("/sandbox/reset", reset)
