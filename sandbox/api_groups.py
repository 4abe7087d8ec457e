"""Emulated ``/v1/groups`` routes: every group the bot sees in envelopes is listed here."""

from __future__ import annotations

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
from sandbox.models import Group, Persona, internal_group_id
from sandbox.sending import Reply
from sandbox.state import SandboxState

PERMISSIONS = ("every-member", "only-admins")
LINK_STATES = ("enabled", "enabled-with-approval", "disabled")
_PERMISSION_ERRORS = {
    "add_members": "Invalid add members permission provided - only 'every-member' and "
    "'only-admins' allowed!",
    "edit_group": "Invalid edit group permissions provided - only 'every-member' and "
    "'only-admins' allowed!",
    "send_messages": "Invalid send messages permissions provided - only 'every-member' and "
    "'only-admins' allowed!",
}


def entry(state: SandboxState, g: Group, *, expand: bool = False) -> dict[str, Any]:
    """A GroupEntry; members are named by number, else UUID, as upstream does."""
    people = [state.persona(uid) for uid in g.members]
    admins = [state.persona(uid) for uid in g.admins]

    def name(p: Persona) -> Any:
        return {"number": p.number or "", "uuid": p.uuid} if expand else p.member_identifier

    bot: Any = {"number": state.bot_number, "uuid": state.bot_uuid} if expand else state.bot_number
    members = ([bot] if g.bot_is_member else []) + [name(p) for p in people]
    return {
        "name": g.name,
        "description": g.description,
        "id": g.public_id,
        "internal_id": g.internal_id,
        "members": members,
        "blocked": False,
        "member": g.bot_is_member,
        "pending_invites": [],
        "pending_requests": [],
        "invite_link": "" if g.link == "disabled" else f"https://signal.group/#{g.internal_id}",
        "admins": ([bot] if g.bot_is_admin and g.bot_is_member else []) + [name(p) for p in admins],
        # Upstream copies the send-messages permission into edit_group (api 0.101 quirk).
        "permissions": {
            "add_members": g.add_members,
            "edit_group": g.send_messages,
            "send_messages": g.send_messages,
        },
    }


def _permission_error(perms: dict[str, Any] | None) -> str | None:
    for key, message in _PERMISSION_ERRORS.items():
        value = (perms or {}).get(key) or ""
        if value and value not in PERMISSIONS:
            return message
    return None


def _apply_permissions(g: Group, perms: dict[str, Any] | None) -> None:
    for key in _PERMISSION_ERRORS:
        value = (perms or {}).get(key)
        if value:
            setattr(g, key, value)


def _expand(request: web.Request) -> bool | web.Response:
    expand = request.query.get("expand", "false")
    if expand not in ("true", "false"):
        return fail(
            "Couldn't process request - expand parameter needs to be either 'true' or 'false'"
        )
    return expand == "true"


def _resolve_all(state: SandboxState, names: list[str]) -> list[Persona] | web.Response:
    out = []
    for n in names:
        p = state.find_persona(n)
        if p is None:
            return fail(f"The user {n} is not registered.")
        out.append(p)
    return out


async def list_groups(request: web.Request) -> web.Response:
    expand = _expand(request)
    if isinstance(expand, web.Response):
        return expand
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    items = [entry(state, g, expand=expand) for g in state.groups.values()]
    if expand:
        return web.json_response(items)
    return json_list(items, "client.GroupEntry")


async def get_group(request: web.Request) -> web.Response:
    expand = _expand(request)
    if isinstance(expand, web.Response):
        return expand
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    wanted = request.match_info["groupid"]
    g = next((g for g in state.groups.values() if g.public_id == wanted), None)
    if g is None:
        return fail("No group with that id found", 404)
    if expand:
        return web.json_response(entry(state, g, expand=True))
    return respond(Reply(200, entry(state, g)), "client.GroupEntry")


async def create_group(request: web.Request) -> web.Response:
    body = await read_object(request, "api.CreateGroupRequest")
    if body is None:
        return invalid_request()
    error = _permission_error(body.get("permissions"))
    if error:
        return fail(error)
    link = body.get("group_link") or "disabled"
    if link not in LINK_STATES:
        return fail(
            "Invalid group link provided - only 'enabled', 'enabled-with-approval' "
            "and 'disabled' allowed!"
        )
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    people = _resolve_all(state, body.get("members") or [])
    if isinstance(people, web.Response):
        return people
    g = Group(
        Group.new_internal_id(),
        body.get("name") or "",
        [p.uuid for p in people],
        description=body.get("description") or "",
        link=link,
        expiration_seconds=body.get("expiration_time") or 0,
    )
    _apply_permissions(g, body.get("permissions"))
    state.groups[g.internal_id] = g
    return respond(Reply(201, {"id": g.public_id}), "api.CreateGroupResponse")


def _known_group(state: SandboxState, public_id: str) -> Group | web.Response:
    try:
        internal = internal_group_id(public_id)
    except ValueError:
        return fail("Invalid group id")
    g = state.groups.get(internal)
    if g is None:
        return fail(f"Group not found: {internal}")
    return g


async def update_group(request: web.Request) -> web.Response:
    try:
        internal_group_id(request.match_info["groupid"])
    except ValueError:
        return fail("Invalid group id")
    body = await read_object(request, "api.UpdateGroupRequest")
    if body is None:
        return invalid_request()
    if body.get("group_link") is not None and body["group_link"] not in LINK_STATES:
        return fail(
            "Invalid group link provided - only 'enabled', 'enabled-with-approval' "
            "and 'disabled' allowed!"
        )
    error = _permission_error(body.get("permissions"))
    if error:
        return fail(error)
    if not account_ok(request):
        return no_account()
    g = _known_group(state_of(request), request.match_info["groupid"])
    if isinstance(g, web.Response):
        return g
    for field, attr in (
        ("name", "name"),
        ("description", "description"),
        ("expiration_time", "expiration_seconds"),
        ("group_link", "link"),
    ):
        if body.get(field) is not None:
            setattr(g, attr, body[field])
    _apply_permissions(g, body.get("permissions"))
    g.revision += 1
    return no_content()


async def delete_group(request: web.Request) -> web.Response:
    """Upstream "delete" is signal-cli quitGroup: the group stays listed, member false."""
    try:
        internal_group_id(request.match_info["groupid"])
    except ValueError:
        return fail("Invalid group id")
    if not account_ok(request):
        return no_account()
    g = _known_group(state_of(request), request.match_info["groupid"])
    if isinstance(g, web.Response):
        return g
    g.bot_is_member = False
    g.revision += 1
    return web.Response(status=200)


async def _change(request: web.Request, field: str, *, add: bool) -> web.Response:
    definition = (
        "api.ChangeGroupMembersRequest" if field == "members" else ("api.ChangeGroupAdminsRequest")
    )
    body = await read_object(request, definition)
    if body is None:
        return invalid_request()
    names: list[str] = body.get(field) or []
    if field == "members" and add and not names:
        return fail("Couldn't process request - group members missing")
    if not names:
        return no_content()
    if not account_ok(request):
        return no_account()
    state = state_of(request)
    public_id = request.match_info["groupid"]
    g = next((g for g in state.groups.values() if g.public_id == public_id), None)
    if g is None:
        return fail(f"No group with that group id ({public_id}) found", 404)
    people = _resolve_all(state, names)
    if isinstance(people, web.Response):
        return people
    target = g.members if field == "members" else g.admins
    for p in people:
        if add and p.uuid not in target:
            if field == "admins" and p.uuid not in g.members:
                return fail(f"{p.member_identifier} is not a member of the group")
            target.append(p.uuid)
        elif not add and p.uuid in target:
            target.remove(p.uuid)
            if field == "members" and p.uuid in g.admins:
                g.admins.remove(p.uuid)
    g.revision += 1
    return no_content()


async def add_members(request: web.Request) -> web.Response:
    return await _change(request, "members", add=True)


async def remove_members(request: web.Request) -> web.Response:
    return await _change(request, "members", add=False)


async def add_admins(request: web.Request) -> web.Response:
    return await _change(request, "admins", add=True)


async def remove_admins(request: web.Request) -> web.Response:
    return await _change(request, "admins", add=False)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/groups/{number}", list_groups)
    app.router.add_post("/v1/groups/{number}", create_group)
    app.router.add_get("/v1/groups/{number}/{groupid}", get_group)
    app.router.add_put("/v1/groups/{number}/{groupid}", update_group)
    app.router.add_delete("/v1/groups/{number}/{groupid}", delete_group)
    app.router.add_post("/v1/groups/{number}/{groupid}/members", add_members)
    app.router.add_delete("/v1/groups/{number}/{groupid}/members", remove_members)
    app.router.add_post("/v1/groups/{number}/{groupid}/admins", add_admins)
    app.router.add_delete("/v1/groups/{number}/{groupid}/admins", remove_admins)
