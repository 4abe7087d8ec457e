"""Security claims of the Foundation, each with a test that fails if the claim breaks.

Threat-model numbers refer to shared/docs/security-model.md.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import logging
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot.app import LanternApp
from bot.logging import RedactingStream, configure_logging
from security import DecryptionError
from storage.models import Member
from storage.repositories import Repositories
from tests.conftest import Chat, new_account
from tests.helpers import invite, join

CANARY_HANDLE = "canary_q7x"
CANARY_TEXT = "Canary landlord at 17 Quince Street"


def forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [
        raw,
        value.encode("utf-16-le"),
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw),
        value.replace("-", "").encode(),
    ]


async def dump_tables(app: LanternApp) -> bytes:
    chunks: list[bytes] = []
    async with app.db.transaction() as session:
        for table in ("members", "invites", "dialogs", "inbound_journal"):
            for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                for value in row:
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\x00".join(chunks)


def files_of(url: str) -> bytes:
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_cold_database_copy_holds_no_canary(chat: Chat, app: LanternApp) -> None:
    """Threat 1: members, dialogs in progress and the journal are ciphertext at rest."""
    member = new_account()
    await join(chat, app, member, CANARY_HANDLE)
    half = new_account()
    await chat.send(half, f"join {await invite(app)}")
    await chat.send(half, "1")
    await chat.send(half, "canary_half")  # dialog data now holds a handle
    async with app.db.transaction() as session:  # an unhandled message waiting in the journal
        await Repositories(session, app.keys).journal.record(
            member, 1, "text", {"text": CANARY_TEXT}
        )
    blob = await dump_tables(app)
    if app.db.url.startswith("sqlite"):
        await app.db.dispose()
        blob += files_of(app.db.url)
    for canary in (member, half, CANARY_HANDLE, "canary_half", CANARY_TEXT):
        for form in forms(canary):
            assert form not in blob, f"{canary!r} found at rest"


async def test_ciphertext_moved_to_another_row_fails(chat: Chat, app: LanternApp) -> None:
    """Threat 3: associated data binds each ciphertext to its row and column."""
    first, second = new_account(), new_account()
    await join(chat, app, first, "first_m")
    await join(chat, app, second, "second_m")
    async with app.db.transaction() as session:
        rows = (await session.scalars(select(Member).order_by(Member.id))).all()
        a, b = rows
        await session.execute(
            update(Member).where(Member.id == b.id).values(account_ct=a.account_ct)
        )
        await session.execute(
            update(Member).where(Member.id == a.id).values(account_ct=a.handle_ct)
        )
    async with app.db.transaction() as session:
        repos = Repositories(session, app.keys)
        for member_id in (a.id, b.id):
            with pytest.raises(DecryptionError):
                await repos.members.account_of(member_id)


async def test_blind_index_is_keyed(chat: Chat, app: LanternApp) -> None:
    """Threat 2: unkeyed hashes of the account id match nothing stored."""
    account = new_account()
    await join(chat, app, account, "indexed")
    blob = await dump_tables(app)
    for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5, hashlib.blake2b):
        for form in (account, account.upper(), account.replace("-", "")):
            full = digest(form.encode()).digest()
            assert full[:16] not in blob
            assert full.hex()[:32].encode() not in blob


async def test_logs_at_debug_hold_no_personal_data(
    chat: Chat, app: LanternApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threats 11 and 12: every library at DEBUG, plus a forced exception with plaintext."""
    sink = io.StringIO()
    configure_logging("DEBUG", stream=sink)
    try:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
        account = new_account()
        await join(chat, app, account, CANARY_HANDLE)

        async def explode(ctx):  # type: ignore[no-untyped-def]
            secret = f"{ctx.sender} {ctx.member.handle} {CANARY_TEXT}"
            raise ValueError(secret)

        router = chat.dispatcher.router
        exploding = dataclasses.replace(router.lookup("me"), handler=explode)
        monkeypatch.setitem(router._by_word, "me", exploding)
        reply = await chat.say(account, f"me {CANARY_TEXT}")
        assert "nothing was changed" in reply
    finally:
        configure_logging("WARNING")
    output = sink.getvalue()
    assert "handler_failed" in output and "ValueError" in output
    for canary in (account, CANARY_HANDLE, CANARY_TEXT, "Quince"):
        assert canary not in output


def test_redacting_stream_scrubs_tracebacks_printed_by_libraries() -> None:
    inner = io.StringIO()
    stream = RedactingStream(inner)
    stream.write(
        "pydantic_core.ValidationError: 1 validation error\n"
        "  input_value={'envelope': {'sourceNumber': '+12025550123', 'message': 'secret'}}\n"
        "ReceiveError: ws://127.0.0.1:8080/v1/receive/+12025550100 closed\n"
        "uuid 8c5fb25e-e211-41f6-b9a8-2346c5a75fed\n"
    )
    out = inner.getvalue()
    for leaked in ("+12025550123", "secret", "+12025550100", "8c5fb25e-e211"):
        assert leaked not in out


def test_scrub_keeps_service_addresses_but_not_numbers() -> None:
    from bot.logging import scrub

    assert scrub("at 127.0.0.1:18080") == "at 127.0.0.1:18080"
    for number in ("+12025550123", "202.555.0123", "(202) 555-0123", "+49 151 12345678"):
        assert "555" not in scrub(f"to {number} failed") and "1234" not in scrub(number)
