"""Every emulated route and envelope kind, checked against the upstream swagger contract.

Expected shapes come from the swagger file signalbot ships (looked up per route and status
in conftest.assert_contract) and from signalbot's own parsers, never from literals here.
"""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
from signalbot import _generated as gen
from signalbot._client import SignalAPI
from signalbot.messages import DataMessage, parse
from signalbot.reactions import Reaction

from sandbox import SandboxServer, SandboxState, schema
from tests.sandbox.conftest import BOT_NUMBER, call

N = BOT_NUMBER


async def test_general_health_and_about_match_signalbot(signal_api: SignalAPI) -> None:
    assert await signal_api.check_signal_service()
    about = await signal_api.general.about()
    assert (about.mode, about.version) == ("json-rpc", "0.101")


async def test_general_about_matches_swagger(http: aiohttp.ClientSession) -> None:
    await call(http, "GET", "/v1/about", "/v1/about", expect=200)
    assert await call(http, "GET", "/v1/health", "/v1/health", expect=204) is None


async def test_routes_unknown_answer_gin_404(http: aiohttp.ClientSession) -> None:
    for method, path in [("GET", "/v1/nope"), ("POST", "/v1/health"), ("GET", "/v3/send")]:
        async with http.request(method, path) as resp:
            assert (resp.status, await resp.text()) == (404, "404 page not found")


@pytest.mark.parametrize(
    ("method", "route", "path", "body"),
    [
        ("GET", "/v1/groups/{number}", "/v1/groups/+12025550199", None),
        ("POST", "/v1/groups/{number}", "/v1/groups/+12025550199", {"name": "x"}),
        ("GET", "/v1/contacts/{number}", "/v1/contacts/+12025550199", None),
        (
            "PUT",
            "/v1/typing-indicator/{number}",
            "/v1/typing-indicator/+12025550199",
            {"recipient": "+12025550101"},
        ),
        (
            "POST",
            "/v1/accounts/{number}/rate-limit-challenge",
            "/v1/accounts/+12025550199/rate-limit-challenge",
            {"challenge_token": "t", "captcha": "c"},
        ),
    ],
)
async def test_routes_unknown_account_is_upstream_error(
    http: aiohttp.ClientSession, method: str, route: str, path: str, body: object
) -> None:
    got = await call(http, method, route, path, body, expect=400)
    assert got == {"error": "Specified account does not exist"}


async def test_send_v2_text_plain_body_is_parsed_and_answers_array(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    body = {"number": N, "recipients": [ana.uuid], "message": "hi"}
    [resp] = await call(http, "POST", "/v2/send", "/v2/send", body, expect=201)
    [d] = state.deliveries(persona="Ana")
    assert int(resp["timestamp"]) == d.timestamp


async def test_send_v2_several_recipients_make_one_batch(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    a, b = state.create_persona("Ana"), state.create_persona("Ben", hidden_number=True)
    body = {"number": N, "recipients": [a.number, b.uuid], "message": "hi"}
    resp = await call(http, "POST", "/v2/send", "/v2/send", body, expect=201)
    assert len(resp) == 1
    assert {d.timestamp for d in state.deliveries()} == {int(resp[0]["timestamp"])}


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ("not json", "invalid request"),
        ({"number": N, "recipients": "x", "message": "m"}, "invalid request"),
        ({"number": N, "recipients": [], "message": "m"}, "at least one recipient"),
        ({"recipients": ["+12025550101"], "message": "m"}, "valid number"),
        ({"number": N, "recipients": ["+12025550101"], "message": ""}, "empty message"),
        ({"number": N, "recipients": ["+12025550177"], "message": "m"}, "not registered"),
        (
            {"number": N, "recipients": ["+12025550101", "group.abcdefghijklm"], "message": "m"},
            "Invalid identifier",
        ),
    ],
)
async def test_send_v2_invalid_input_is_400_error(
    http: aiohttp.ClientSession, state: SandboxState, body: object, message_part: str
) -> None:
    state.create_persona("Ana")
    async with http.post(
        "/v2/send",
        data=body if isinstance(body, str) else json.dumps(body),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    ) as resp:
        got = await resp.json()
        assert resp.status == 400
    schema.check("api.Error", got)
    assert message_part in got["error"]


async def test_send_v2_through_signalbot_client_with_attachment_and_quote(
    signal_api: SignalAPI, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    payload = base64.b64encode(b"%PDF-1.4 tiny").decode()
    request = gen.SendMessageV2(
        number=N,
        recipients=[ana.uuid],
        message="see file",
        quote_timestamp=123,
        quote_author=ana.uuid,
        text_mode=gen.TextMode("styled"),
        base64_attachments=[f"data:application/pdf;filename=a.pdf;base64,{payload}"],
    )
    [resp] = await signal_api.messages.send(request)
    [d] = state.deliveries()
    assert (d.timestamp, d.attachments, d.quote_timestamp, d.text_mode) == (
        int(resp.timestamp),
        1,
        123,
        "styled",
    )
    assert state.sent_attachments[d.attachment_ids[0]] == (
        "a.pdf",
        "application/pdf",
        b"%PDF-1.4 tiny",
    )


async def test_groups_routes_match_swagger(
    http: aiohttp.ClientSession, signal_api: SignalAPI, state: SandboxState
) -> None:
    ana, ben = state.create_persona("Ana"), state.create_persona("Ben", hidden_number=True)
    created = await call(
        http,
        "POST",
        "/v1/groups/{number}",
        f"/v1/groups/{N}",
        {"name": "Cell", "members": [ana.number]},
        expect=201,
    )
    gid = created["id"]
    one = "/v1/groups/{number}/{groupid}"
    await call(http, "GET", one, f"/v1/groups/{N}/{gid}", expect=200)
    await call(
        http,
        "PUT",
        one,
        f"/v1/groups/{N}/{gid}",
        {"name": "Cell 2", "expiration_time": 60},
        expect=204,
    )
    await call(
        http,
        "POST",
        one + "/members",
        f"/v1/groups/{N}/{gid}/members",
        {"members": [ben.uuid]},
        expect=204,
    )
    await call(
        http,
        "POST",
        one + "/admins",
        f"/v1/groups/{N}/{gid}/admins",
        {"admins": [ben.uuid]},
        expect=204,
    )
    await call(
        http,
        "DELETE",
        one + "/admins",
        f"/v1/groups/{N}/{gid}/admins",
        {"admins": [ben.uuid]},
        expect=204,
    )
    await call(
        http,
        "DELETE",
        one + "/members",
        f"/v1/groups/{N}/{gid}/members",
        {"members": [ana.number]},
        expect=204,
    )
    listed = await signal_api.groups.get_all()  # signalbot's parser
    assert [(g.id, g.name, g.members) for g in listed] == [(gid, "Cell 2", [N, ben.uuid])]
    assert state.group(gid).expiration_seconds == 60
    await call(http, "DELETE", one, f"/v1/groups/{N}/{gid}", expect=200)
    assert not (await signal_api.groups.get(gid)).member
    await call(http, "GET", one, f"/v1/groups/{N}/group.bm9wZQ==", expect=404)


async def test_messages_side_routes_match_swagger(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    typing = "/v1/typing-indicator/{number}"
    await call(
        http, "PUT", typing, f"/v1/typing-indicator/{N}", {"recipient": ana.uuid}, expect=204
    )
    await call(
        http, "DELETE", typing, f"/v1/typing-indicator/{N}", {"recipient": ana.uuid}, expect=204
    )
    react = {"recipient": ana.uuid, "reaction": "❤️", "target_author": ana.uuid, "timestamp": 5}
    await call(http, "POST", "/v1/reactions/{number}", f"/v1/reactions/{N}", react, expect=204)
    await call(http, "DELETE", "/v1/reactions/{number}", f"/v1/reactions/{N}", react, expect=204)
    await call(
        http,
        "POST",
        "/v1/receipts/{number}",
        f"/v1/receipts/{N}",
        {"recipient": ana.uuid, "receipt_type": "read", "timestamp": 5},
        expect=204,
    )
    [sent] = await call(
        http,
        "POST",
        "/v2/send",
        "/v2/send",
        {"number": N, "recipients": [ana.uuid], "message": "oops"},
        expect=201,
    )
    await call(
        http,
        "DELETE",
        "/v1/remote-delete/{number}",
        f"/v1/remote-delete/{N}",
        {"recipient": ana.uuid, "timestamp": int(sent["timestamp"])},
        expect=201,
    )
    assert state.deliveries()[0].deleted
    kinds = [a.kind for a in state.actions()]
    assert kinds == [
        "typing_started",
        "typing_stopped",
        "reaction",
        "reaction_removed",
        "receipt_read",
        "remote_delete",
    ]
    await call(
        http,
        "POST",
        "/v1/reactions/{number}",
        f"/v1/reactions/{N}",
        {**react, "reaction": ""},
        expect=400,
    )


async def test_contacts_identities_attachments_match_swagger(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    await call(
        http,
        "PUT",
        "/v1/contacts/{number}",
        f"/v1/contacts/{N}",
        {"recipient": ana.uuid, "expiration_in_seconds": 600, "name": "A"},
        expect=204,
    )
    contacts = await call(http, "GET", "/v1/contacts/{number}", f"/v1/contacts/{N}", expect=200)
    assert [c["uuid"] for c in contacts] == [ana.uuid]
    assert state.timer_for(ana.uuid, None) == 600
    ids = await call(http, "GET", "/v1/identities/{number}", f"/v1/identities/{N}", expect=200)
    assert ids[0]["status"] == "TRUSTED_UNVERIFIED"
    await state.inject_text_detailed("Ana", "pic", attachments=[("p.png", "image/png", b"PNG")])
    [att_id] = await call(http, "GET", "/v1/attachments", "/v1/attachments", expect=200)
    async with http.get(f"/v1/attachments/{att_id}") as resp:
        assert (resp.status, await resp.read()) == (200, b"PNG")
    await call(
        http, "DELETE", "/v1/attachments/{attachment}", f"/v1/attachments/{att_id}", expect=204
    )
    await call(http, "GET", "/v1/attachments/{attachment}", f"/v1/attachments/{att_id}", expect=404)


async def test_receive_without_websocket_upgrade_is_400(http: aiohttp.ClientSession) -> None:
    await call(http, "GET", "/v1/receive/{number}", f"/v1/receive/{N}", expect=400)


async def test_envelopes_every_kind_validates_and_parses(
    server: SandboxServer, state: SandboxState, signal_api: SignalAPI
) -> None:
    ana = state.create_persona("Ana")
    state.create_persona("Ben", hidden_number=True)
    group = state.create_group("Cell", ["Ana", "Ben"])
    t1 = await state.inject_text("Ana", "1:1")
    await state.inject_text("Ben", "hidden")
    await state.inject_text("Ben", "group", group_id=group.public_id, quote_timestamp=t1)
    await state.inject_reaction("Ana", "🔥", t1)
    await state.inject_reaction("Ben", "🔥", t1, remove=True, group_id=group.internal_id)
    await state.inject_text_detailed("Ana", None, attachments=[("a.txt", "text/plain", b"x")])
    assert len(state.injected) == 6
    parsed = []
    for frame in state.injected:
        schema.check("data.Message", frame)
        parsed.append(await parse(signal_api, json.dumps(frame)))
    kinds = [type(p) for p in parsed]
    assert kinds == [DataMessage, DataMessage, DataMessage, Reaction, Reaction, DataMessage]
    hidden = state.injected[1]["envelope"]
    assert hidden["sourceNumber"] is None
    assert parsed[1].source_uuid == hidden["sourceUuid"]
    assert parsed[2].group_info.group_id == group.internal_id
    assert parsed[2].quote.author_uuid == ana.uuid
    assert parsed[3].timestamp == t1
    assert parsed[4].is_remove
    assert parsed[5].attachments[0].base64_content == base64.b64encode(b"x").decode()


async def test_groups_listing_contains_every_group_id_in_envelopes(
    signal_api: SignalAPI, state: SandboxState
) -> None:
    state.create_persona("Ana")
    for name in ("A", "B", "C"):
        group = state.create_group(name, ["Ana"])
        await state.inject_text("Ana", "hi", group_id=group.public_id)
    seen = {f["envelope"]["dataMessage"]["groupInfo"]["groupId"] for f in state.injected}
    listed = {g.internal_id for g in await signal_api.groups.get_all()}
    assert len(seen) == 3
    assert seen <= listed


async def test_send_v2_null_fields_are_zero_values_like_go(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    body = {
        "number": N,
        "recipients": [ana.uuid],
        "message": "hi",
        "quote_timestamp": None,
        "mentions": None,
        "text_mode": None,
    }
    await call(http, "POST", "/v2/send", "/v2/send", body, expect=201)
    assert state.deliveries()[0].quote_timestamp is None


async def test_contacts_single_and_groups_expanded_listing(
    http: aiohttp.ClientSession, state: SandboxState
) -> None:
    ana = state.create_persona("Ana", hidden_number=True)
    group = state.create_group("Cell", ["Ana"])
    one = "/v1/contacts/{number}/{uuid}"
    got = await call(http, "GET", one, f"/v1/contacts/{N}/{ana.uuid}", expect=200)
    assert (got["uuid"], got["number"], got["profile"]["given_name"]) == (ana.uuid, "", "Ana")
    await call(
        http, "GET", one, f"/v1/contacts/{N}/{'0' * 8}-0000-0000-0000-{'0' * 12}", expect=404
    )
    async with http.get(f"/v1/groups/{N}?expand=true") as resp:
        [expanded] = await resp.json()
    assert expanded["id"] == group.public_id
    assert {"number": "", "uuid": ana.uuid} in expanded["members"]
    await call(http, "GET", "/v1/groups/{number}", f"/v1/groups/{N}?expand=maybe", expect=400)
