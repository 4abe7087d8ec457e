"""Emulated routes about people and files: contacts, identities, attachments."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox.httputil import (
    account_ok,
    fail,
    invalid_request,
    json_list,
    no_account,
    no_content,
    read_object,
    respond,
    state_of,
)
from sandbox.models import (
    TRUSTED_UNVERIFIED,
    TRUSTED_VERIFIED,
    Persona,
    hex_fingerprint,
    safety_number,
)
from sandbox.sending import Reply
from sandbox.state import SandboxState


def _contact(state: SandboxState, p: Persona) -> dict[str, Any]:
    """One contact as the REST API returns it.

    Upstream maps signal-cli's ``messageExpirationTime``/``isBlocked``/``profileName`` onto
    differently named fields, so ``message_expiration`` is always "" and ``blocked`` false
    in 0.101; the sandbox reproduces that instead of showing the timer.
    """
    return {
        "number": p.number or "",
        "uuid": p.uuid,
        "name": state.contact_names.get(p.uuid, ""),
        "profile_name": "",
        "username": p.username,
        "color": "",
        "blocked": False,
        "message_expiration": "",
        "note": "",
        "given_name": "",
        "profile": {
            "given_name": p.name,
            "lastname": "",
            "about": "",
            "has_avatar": False,
            "last_updated_timestamp": p.identity_added,
        },
        "nickname": {"name": "", "given_name": "", "family_name": ""},
    }


async def list_contacts(request: web.Request) -> web.Response:
    all_recipients = request.query.get("all_recipients", "false")
    if all_recipients not in ("true", "false"):
        return fail(
            "Couldn't process request - all_recipients parameter needs to be "
            "either 'true' or 'false'"
        )
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    known = set(state.contact_names) | set(state.contact_timers)
    people = [p for p in state.personas() if all_recipients == "true" or p.uuid in known]
    return json_list([_contact(state, p) for p in people], "client.ListContactsResponse")


async def get_contact(request: web.Request) -> web.Response:
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    wanted = request.match_info["uuid"]
    persona = state.find_persona(wanted)
    if persona is None:
        return fail(f"No user with that id ({wanted}) found", 404)
    return respond(Reply(200, _contact(state, persona)), "client.ListContactsResponse")


async def update_contact(request: web.Request) -> web.Response:
    body = await read_object(request, "api.UpdateContactRequest")
    if body is None:
        return invalid_request()
    if not body.get("recipient"):
        return fail("Couldn't process request - recipient missing")
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    persona = state.find_persona(body["recipient"])
    if persona is None:
        return fail(f"The user {body['recipient']} is not registered.")
    if body.get("name"):
        state.contact_names[persona.uuid] = body["name"]
    # Upstream forwards the timer with Go's omitempty: 0 never reaches signal-cli, so a
    # timer can be changed but not switched off this way. Reproduced on purpose.
    seconds = body.get("expiration_in_seconds")
    if seconds:
        state.contact_timers[persona.uuid] = seconds
        state.record_action("expiration_timer", persona.uuid, timestamp=seconds)
    elif persona.uuid not in state.contact_timers:
        state.contact_timers.setdefault(persona.uuid, 0)
    return no_content()


def _identity(state: SandboxState, p: Persona) -> dict[str, Any]:
    return {
        "number": p.number or "",
        "status": p.identity_status,
        "fingerprint": hex_fingerprint(p.identity_key),
        "added": str(p.identity_added),
        "safety_number": safety_number(
            state.bot_uuid, state.bot_identity_key, p.uuid, p.identity_key
        ),
        "uuid": p.uuid,
    }


async def list_identities(request: web.Request) -> web.Response:
    if not account_ok(request):
        return fail("Specified account does not exist", 500)  # upstream answers 500 here
    state = state_of(request)
    return json_list([_identity(state, p) for p in state.personas()], "client.IdentityEntry")


async def trust_identity(request: web.Request) -> web.Response:
    body = await read_object(request, "api.TrustIdentityRequest")
    if body is None:
        return invalid_request()
    safety, trust_all = body.get("verified_safety_number"), body.get("trust_all_known_keys")
    if safety is None and not trust_all:
        return fail(
            "Couldn't process request - please either provide a safety number "
            "(preferred & more secure) or set 'trust_all_known_keys' to true"
        )
    if safety is not None and trust_all:
        return fail(
            "Couldn't process request - please either provide a safety number or set "
            "'trust_all_known_keys' to true. But do not set both parameters at once!"
        )
    if safety is not None and safety == "":
        return fail("Couldn't process request - please provide a valid safety number")
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    persona = state.find_persona(request.match_info["number_to_trust"])
    if trust_all:
        if persona is None:
            return fail("Failed to set the trust for this number, make sure the number is correct.")
        persona.identity_status = TRUSTED_UNVERIFIED
        return no_content()
    compact = re.sub(r"\s", "", safety or "")
    if not (re.fullmatch(r"\d{60}", compact) or re.fullmatch(r"[0-9a-fA-F]+", compact)):
        return fail(
            "Safety number has invalid format, either specify the old hex fingerprint "
            "or the new safety number"
        )
    if persona is None or compact.lower() not in _accepted(state, persona):
        return fail(
            "Failed to set the trust for this number, make sure the number and the "
            "fingerprint/safety number are correct."
        )
    persona.identity_status = TRUSTED_VERIFIED
    return no_content()


def _accepted(state: SandboxState, p: Persona) -> set[str]:
    number = safety_number(state.bot_uuid, state.bot_identity_key, p.uuid, p.identity_key)
    return {number.replace(" ", ""), p.identity_key.hex()}


async def list_attachments(request: web.Request) -> web.Response:
    return web.json_response(sorted(state_of(request).attachments))


async def get_attachment(request: web.Request) -> web.Response:
    stored = state_of(request).attachments.get(request.match_info["attachment"])
    if stored is None:
        return fail("No attachment with that name found", 404)
    _, content_type, data = stored
    return web.Response(body=data, content_type=content_type)


async def delete_attachment(request: web.Request) -> web.Response:
    if state_of(request).attachments.pop(request.match_info["attachment"], None) is None:
        return fail("No attachment with that name found", 404)
    return no_content()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/contacts/{number}", list_contacts)
    app.router.add_put("/v1/contacts/{number}", update_contact)
    app.router.add_get("/v1/contacts/{number}/{uuid}", get_contact)
    app.router.add_get("/v1/identities/{number}", list_identities)
    app.router.add_put("/v1/identities/{number}/trust/{number_to_trust}", trust_identity)
    app.router.add_get("/v1/attachments", list_attachments)
    app.router.add_get("/v1/attachments/{attachment}", get_attachment)
    app.router.add_delete("/v1/attachments/{attachment}", delete_attachment)
