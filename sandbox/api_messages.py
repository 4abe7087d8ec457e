"""Emulated routes around messages: typing, reactions, receipts, remote delete, captcha."""

from __future__ import annotations

from aiohttp import web

from sandbox.httputil import (
    account_ok,
    fail,
    invalid_request,
    no_account,
    no_content,
    read_object,
    respond,
    state_of,
)
from sandbox.models import GROUP_PREFIX, UNTRUSTED, internal_group_id
from sandbox.sending import UNTRUSTED_KEYS, Reply, recipient_kind
from sandbox.state import SandboxState

CAPTCHA_REJECTED = (
    "Captcha rejected, it may be outdated, already used or solved from a different IP address."
)


def _target(state: SandboxState, recipient: str) -> tuple[str, bool] | web.Response:
    """Resolve a recipient to (persona uuid or public group id, identity untrusted?)."""
    if recipient.startswith(GROUP_PREFIX):
        try:
            internal = internal_group_id(recipient)
        except ValueError:
            return fail("Invalid group id")
        group = state.groups.get(internal)
        if group is None:
            return fail(f"Group not found: {internal}")
        return group.public_id, False
    persona = state.find_persona(recipient)
    if persona is None:
        return fail(f"The user {recipient} is not registered.")
    return persona.uuid, persona.identity_status == UNTRUSTED


async def _typing(request: web.Request, kind: str) -> web.Response:
    body = await read_object(request, "api.TypingIndicatorRequest")
    if body is None:
        return invalid_request()
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    target = _target(state, body.get("recipient", ""))
    if isinstance(target, web.Response):
        return target
    state.record_action(kind, target[0])
    return no_content()


async def start_typing(request: web.Request) -> web.Response:
    return await _typing(request, "typing_started")


async def stop_typing(request: web.Request) -> web.Response:
    return await _typing(request, "typing_stopped")


async def _reaction(request: web.Request, *, remove: bool) -> web.Response:
    definition = "api.RemoveReactionRequest" if remove else "api.SendReactionRequest"
    body = await read_object(request, definition)
    if body is None:
        return invalid_request()
    if not body.get("recipient"):
        return fail("Couldn't process request - recipient missing")
    if not remove and not body.get("reaction"):
        return fail("Couldn't process request - reaction missing")
    if not body.get("target_author"):
        return fail("Couldn't process request - target_author missing")
    if not body.get("timestamp"):
        return fail("Couldn't process request - timestamp missing")
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    target = _target(state, body["recipient"])
    if isinstance(target, web.Response):
        return target
    if target[1]:
        return fail(UNTRUSTED_KEYS)
    state.record_action(
        "reaction_removed" if remove else "reaction",
        target[0],
        timestamp=body["timestamp"],
        emoji=body.get("reaction") or "👍",  # upstream fills a removal's empty emoji
        target_author=body["target_author"],
    )
    return no_content()


async def send_reaction(request: web.Request) -> web.Response:
    return await _reaction(request, remove=False)


async def remove_reaction(request: web.Request) -> web.Response:
    return await _reaction(request, remove=True)


async def send_receipt(request: web.Request) -> web.Response:
    body = await read_object(request, "api.Receipt")
    if body is None:
        return invalid_request()
    if not body.get("recipient"):
        return fail("Couldn't process request - recipient missing")
    if body.get("receipt_type") not in ("read", "viewed"):
        return fail("Couldn't process request - receipt type must be read or viewed")
    if not body.get("timestamp"):
        return fail("Couldn't process request - timestamp missing")
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    target = _target(state, body["recipient"])
    if isinstance(target, web.Response):
        return target
    state.record_action(f"receipt_{body['receipt_type']}", target[0], timestamp=body["timestamp"])
    return no_content()


async def remote_delete(request: web.Request) -> web.Response:
    body = await read_object(request, "api.RemoteDeleteRequest")
    if body is None:
        return invalid_request()
    recipient = body.get("recipient", "")
    try:
        recipient_kind(recipient)
    except ValueError as exc:
        return fail(str(exc))
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    target = _target(state, recipient)
    if isinstance(target, web.Response):
        return target
    deleted_ts = body.get("timestamp", 0)
    for d in state.all_deliveries():
        if d.timestamp == deleted_ts and d.recipient == target[0]:
            d.deleted = True
    state.record_action("remote_delete", target[0], timestamp=deleted_ts)
    return respond(Reply(201, {"timestamp": str(state.now_ms())}), "api.RemoteDeleteResponse")


async def rate_limit_challenge(request: web.Request) -> web.Response:
    body = await read_object(request, "api.RateLimitChallengeRequest")
    if body is None:
        return invalid_request()
    if not body.get("challenge_token"):
        return fail("Couldn't process request - challenge token missing")
    if not body.get("captcha"):
        return fail("Couldn't process request - captcha missing")
    if not account_ok(request):
        return no_account()
    faults = state_of(request).faults
    if not faults.captcha_required or body["challenge_token"] != faults.captcha_token:
        return fail(CAPTCHA_REJECTED)
    faults.update(captcha_required=False)
    return no_content()


def add_routes(app: web.Application) -> None:
    app.router.add_put("/v1/typing-indicator/{number}", start_typing)
    app.router.add_delete("/v1/typing-indicator/{number}", stop_typing)
    app.router.add_post("/v1/reactions/{number}", send_reaction)
    app.router.add_delete("/v1/reactions/{number}", remove_reaction)
    app.router.add_post("/v1/receipts/{number}", send_receipt)
    app.router.add_delete("/v1/remote-delete/{number}", remote_delete)
    app.router.add_post("/v1/accounts/{number}/rate-limit-challenge", rate_limit_challenge)
