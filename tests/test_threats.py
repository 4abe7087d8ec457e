"""Threat tests 1, 2, 9 and 11 (shared/docs/security-model.md, "Threat tests") on one
full scenario with canary data, run through the real dispatcher on SQLite and PostgreSQL.

The scenario runs once per backend (module-scoped evidence: files, tables, logs and every
message sent); the tests then judge that evidence.  The other threat tests live beside
this file: ``test_threats_crypto.py`` (3 ciphertext moved, 4 shred, 6 threshold, key
custody), ``test_threats_sealed.py`` (7 sealed bot), ``test_threats_compartments.py``
(8 cross-cell, 10 enumeration) and ``test_threats_errors.py`` (12 forced exceptions).
Threat 5 (rotation) has no command yet.

Each scanner and the index attack are first shown to find a planted value (positive
controls), so a test here cannot pass by looking in the wrong place.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from bot.ratelimit import RateLimiter
from bot.setup import init_network
from storage.db import Database, is_sqlite
from storage.migrate import upgrade
from tests.canary import (
    AtRest,
    Canaries,
    at_rest,
    canary_word,
    debug_logs,
    phone_shapes,
    sql_dump,
)
from tests.conftest import Chat, FakeMessenger, _truncate
from tests.network import REF, Network, bootstrap, code_in

CELL_A = "Riverside tenants"  # given by tests/network.py bootstrap
PHONES = ("+34612345678", "+4915123456789", "+12025550147")
TEXT_EN = "Landlord Hargreave-Quince at 17 Saltmarsh Row kept our deposits"
TEXT_ES = "El casero Peñalver-Ibáñez de la calle Azucena 23 nos amenazó con el desahucio"
TEXT_SEALED = "Bailiff Okonkwo-Vance comes Tuesday to 4 Juniper Yard, bring everyone"
TEXT_PENDING = "Reunión secreta en el local de Nieves Castañeda, número 9, a las ocho"


def generous_limiter() -> RateLimiter:
    """The scenario sends more than a person would; the rate limit is tested elsewhere."""
    return RateLimiter(per_minute=1e9, burst=1_000_000)


@dataclass
class Scenario:
    chat: Chat
    net: Network
    canaries: Canaries = field(default_factory=Canaries)
    people: dict[str, str] = field(default_factory=dict)  # label -> account
    handles: dict[str, str] = field(default_factory=dict)  # account -> handle
    cells_of: dict[str, set[str]] = field(default_factory=dict)  # account -> cell refs
    cell_names: dict[str, list[str]] = field(default_factory=dict)  # ref -> every name
    codes: list[str] = field(default_factory=list)
    members: set[str] = field(default_factory=set)  # ordinary members, still in

    def person(self, label: str) -> str:
        account = str(uuid.uuid4())
        self.people[label] = account
        self.canaries.add_uuid(f"account:{label}", account)
        return account


async def join_cell(
    s: Scenario, inviter: str, ref: str, label: str, *, lang: str = "en", role: str = "member"
) -> str:
    account = s.person(label)
    handle = s.canaries.add_text(f"handle:{label}", canary_word(f"{label[:4]}_"))
    code = code_in(await s.chat.send(inviter, f"invite {ref} {role}"))
    s.codes.append(s.canaries.add_text(f"code:{label}", code))
    await s.chat.send(account, f"join {code}")
    await s.chat.send(account, "2" if lang == "es" else "1")
    await s.chat.send(account, handle)
    reply = await s.chat.say(account, "sí" if lang == "es" else "yes")
    name = s.cell_names[ref][-1]
    assert reply == translate(lang, "join.done", handle=handle, cell=name, ref=ref)
    s.handles[account] = handle
    s.cells_of.setdefault(account, set()).add(ref)
    if role == "member":
        s.members.add(account)
    return account


async def run_scenario(app: LanternApp, chat: Chat) -> Scenario:
    """Two cells, organizers, members, an ex-member, a half-done join, strangers, free
    text in English and Spanish with phone numbers, renames, a panic seal with messages
    arriving sealed, an unseal, and a second seal that leaves a sealed backlog behind."""
    chat.dispatcher.limiter = generous_limiter()
    net = await bootstrap(app, chat)
    s = Scenario(chat, net)
    canaries = s.canaries
    for i, coordinator in enumerate(net.coordinators, start=1):
        s.people[f"coord{i}"] = coordinator
        canaries.add_uuid(f"account:coord{i}", coordinator)
        canaries.add_text(f"share:coord{i}", net.shares[coordinator])
        canaries.add_text(f"share-words:coord{i}", " ".join(net.shares[coordinator].split()[:4]))
    s.people["orga"] = net.organizer
    canaries.add_uuid("account:orga", net.organizer)
    s.handles[net.organizer] = "orga"
    s.cells_of[net.organizer] = {net.cell}
    s.cell_names[net.cell] = [canaries.add_text("cell:A", CELL_A)]
    for i, number in enumerate(PHONES):
        canaries.add_phone(f"phone:{i}", number)
    for label, value in (
        ("text:en", TEXT_EN),
        ("text:es", TEXT_ES),
        ("text:sealed", TEXT_SEALED),
        ("text:pending", TEXT_PENDING),
    ):
        canaries.add_text(label, value)
    c1, c2, c3 = net.coordinators
    ref_a = net.cell

    name_b = canaries.add_text("cell:B", f"Moonfield couriers {canary_word('', 8)}")
    found = REF.search(await chat.say(c1, f"cell new {name_b}"))
    assert found is not None
    ref_b = found.group(1)
    s.cell_names[ref_b] = [name_b]
    org_b = await join_cell(s, c1, ref_b, "orgb", lang="es", role="organizer")
    b1 = await join_cell(s, org_b, ref_b, "memb1", lang="es")
    b2 = await join_cell(s, org_b, ref_b, "memb2")
    a1 = await join_cell(s, net.organizer, ref_a, "mema1")
    a2 = await join_cell(s, net.organizer, ref_a, "mema2", lang="es")
    mole = await join_cell(s, net.organizer, ref_a, "mole")
    ex = await join_cell(s, net.organizer, ref_a, "exmem")
    await chat.send(ex, "leave")
    assert await chat.say(ex, "yes") == translate("en", "leave.done")
    s.members.discard(ex)

    half = s.person("half")  # a join left half way: the draft holds a handle
    code = code_in(await chat.send(net.organizer, f"invite {ref_a}"))
    s.codes.append(canaries.add_text("code:half", code))
    await chat.send(half, f"join {code}")
    await chat.send(half, "2")
    await chat.send(half, canaries.add_text("handle:half", canary_word("half_")))
    await chat.send(half, "34612345678")  # a number as handle: refused, never stored

    stranger = s.person("stranger")
    shapes = phone_shapes(PHONES[0])
    await chat.send(stranger, f"hola, soy Marta, mi número es {shapes['international']}")
    await chat.send(stranger, f"join {PHONES[1]}")
    await chat.send(stranger, TEXT_EN)

    await chat.send(a1, TEXT_EN)
    await chat.send(a1, f"call me on {phone_shapes(PHONES[2])['national']}")
    await chat.send(b1, TEXT_ES)
    await chat.send(b1, f"mi móvil: {phone_shapes(PHONES[0])['national']}")
    for command in ("me", "cells", "help", "lang es", "yo", "status", "seal"):
        await chat.send(mole, command)
    for command in (f"invite {ref_b}", f"cell rename {ref_b} Mine now", f"join {ref_b}"):
        await chat.send(mole, command)
    await chat.send(mole, f"{PHONES[1]} {TEXT_ES}")

    new_a = canaries.add_text("cell:A2", f"Riverside {canary_word('', 8)}")
    await chat.send(net.organizer, f"cell rename {ref_a} {new_a}")
    s.cell_names[ref_a].append(new_a)
    new_b = canaries.add_text("cell:B2", f"Moonfield {canary_word('', 8)}")
    await chat.send(org_b, f"celula renombrar {ref_b} {new_b}")
    s.cell_names[ref_b].append(new_b)
    await chat.send(b2, "leave")
    await chat.send(b2, "no")
    await chat.send(a2, "células")
    await chat.send(c2, "status")

    assert await chat.say(c2, "seal") == translate("en", "seal.done", needed=net.threshold)
    assert app.vault.sealed
    for who, said in ((a1, TEXT_SEALED), (stranger, TEXT_SEALED), (b1, "yo"), (mole, "cells")):
        assert await chat.say(who, said) == translate("en", "sealed.received")
    await chat.send(c1, f"unseal {net.shares[c1]}")
    await chat.send(c3, f"unseal {net.shares[c3]}")
    assert not app.vault.sealed
    await chat.send(mole, "me")
    await chat.send(a2, TEXT_ES)

    assert await chat.say(c3, "seal") == translate("en", "seal.done", needed=net.threshold)
    await chat.send(b2, TEXT_PENDING)  # stays in the sealed backlog: never opened
    await chat.send(stranger, f"{TEXT_PENDING} {PHONES[2]}")
    return s


# --- the evidence: one scenario per backend -------------------------------------------


@dataclass
class Evidence:
    backend: str
    scenario: Scenario
    logs: str
    running: AtRest  # the files and tables while the bot runs (SQLite: with its WAL)
    closed: AtRest | None  # SQLite after the last connection closed (checkpointed)
    targets: set[bytes]  # every 16-byte value stored: blind indexes, dedupe keys
    salts: list[bytes]

    def received(self, account: str) -> list[str]:
        messenger = self.scenario.chat.messenger
        texts = [t for a, t in messenger.sent if a == account]
        return texts + [str(s) for a, s in messenger.timers if a == account]


async def stored_indexes(db: Database) -> tuple[set[bytes], list[bytes]]:
    """Every 16-byte value in the database and every 32-hex-digit string as bytes (dialog
    key record ids are hex blind indexes), plus what an attacker would try as salts."""
    targets: set[bytes] = set()
    hexes = re.compile(r"^[0-9a-f]{32}$")
    async with db.transaction() as session:
        tables = ("members", "invites", "inbound_journal", "bans", "dialogs", "data_keys")
        for table in tables:
            for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                for value in row:
                    if isinstance(value, bytes) and len(value) == 16:
                        targets.add(value)
                    elif isinstance(value, str) and hexes.match(value):
                        targets.add(bytes.fromhex(value))
        network_id = str(await session.scalar(text("SELECT id FROM network")))
    return targets, [network_id.encode(), bytes.fromhex(network_id), b"lantern"]


async def _collect(url: str, data_dir: Path) -> Evidence:
    settings = Settings(
        bot_number="+12025550100",
        signal_service="127.0.0.1:9",
        data_dir=data_dir,
        database_url=url,
    )
    app = LanternApp(settings)
    messenger = FakeMessenger()
    chat = Chat(app.make_dispatcher(messenger), messenger)
    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            debug_logs(every_library=True) as sink,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            scenario = await run_scenario(app, chat)
        logs = "\n".join((sink.getvalue(), out.getvalue(), err.getvalue()))
        running = await at_rest(app.db)
        targets, salts = await stored_indexes(app.db)
        closed = None
        if is_sqlite(url):
            await app.db.dispose()  # SQLite checkpoints the WAL into the main file
            closed = await at_rest(app.db)
    finally:
        app.vault.seal()
        await app.db.dispose()
    backend = "sqlite" if is_sqlite(url) else "postgresql"
    return Evidence(backend, scenario, logs, running, closed, targets, salts)


@pytest.fixture(scope="module")
def evidence_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    folder = tmp_path_factory.mktemp("threats")
    url = f"sqlite+aiosqlite:///{folder / 'lantern.db'}"
    upgrade(url)
    return asyncio.run(_collect(url, folder / "data"))


@pytest.fixture(scope="module")
def evidence_postgresql(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    asyncio.run(_truncate(postgres_url))
    return asyncio.run(_collect(postgres_url, tmp_path_factory.mktemp("threats") / "data"))


@pytest.fixture(params=["sqlite", "postgresql"])
def evidence(request: pytest.FixtureRequest) -> Evidence:
    found: Evidence = request.getfixturevalue(f"evidence_{request.param}")
    return found


# --- threat 1: cold copy --------------------------------------------------------------


def test_canary_scanner_finds_every_form() -> None:
    """Positive control: each encoding of a canary embedded in noise is found."""
    c = Canaries()
    value = c.add_text("x", TEXT_ES)
    account = c.add_uuid("u", str(uuid.uuid4()))
    c.add_phone("p", PHONES[0])
    for offset in range(3):
        noise = os.urandom(offset)
        assert c.hits(base64.b64encode(noise + value.encode() + os.urandom(5)))
        assert c.hits(base64.urlsafe_b64encode(noise + account.encode() + os.urandom(4)))
    assert c.hits(b"xx" + value.encode("utf-16-be") + b"yy")
    assert c.hits(b"\x01" + uuid.UUID(account).bytes + b"\x02")
    assert c.hits(uuid.UUID(account).bytes.hex().upper().encode())
    assert c.hits(b"tel:+34-612-34-56-78")
    assert c.hits("dígame al 612 34 56 78")
    assert not c.hits(os.urandom(1 << 20))


def test_cold_copy_of_database_holds_no_canary(evidence: Evidence) -> None:
    """Threat 1: a copy of the database files (SQLite: main file + WAL + SHM while the bot
    runs, and the main file after it closes; PostgreSQL: every table's every column, and
    the heap/TOAST/index files when readable) contains no account, phone number, handle,
    cell name, free text, invite code or share word.  The same scenario's logs at DEBUG
    are judged by the threat 11 test below."""
    canaries, running = evidence.scenario.canaries, evidence.running
    where = set(running.parts)
    if evidence.backend == "sqlite":
        assert {"file:lantern.db", "file:lantern.db-wal", "file:lantern.db-shm"} <= where
        assert len(running.parts["file:lantern.db-wal"]) > 0, "WAL must be part of the copy"
    planted = AtRest({**running.parts, "sql": TEXT_ES.encode("utf-16-le")})
    assert "sql: text:es:utf16le" in planted.hits(canaries)  # positive control

    hits = running.hits(canaries)
    if evidence.closed is not None:
        hits += [f"after close {h}" for h in evidence.closed.hits(canaries)]
    size = sum(len(b) for b in running.parts.values())
    print(
        f"\n[{evidence.backend}] cold copy: {len(canaries.forms)} canaries, "
        f"{canaries.form_count} forms, {len(where)} parts, {size} bytes scanned: {len(hits)} hits"
    )
    assert hits == []


async def test_cold_copy_holds_no_network_name_after_first_start(
    app: LanternApp, bare_chat: Chat, settings: Settings, request: pytest.FixtureRequest
) -> None:
    """Threat 1 for the one value written in the clear by design: the network name given
    to ``lantern init`` is encrypted at the bot's first start; no copy may remain."""
    canaries = Canaries()
    name = canaries.add_text("network", f"Quillfeather Tenants Union {canary_word('', 6)}")
    cli = LanternApp(settings)  # `lantern init` runs in its own process, then exits
    await init_network(cli.db, name=name, coordinators=2, threshold=2)
    await cli.db.dispose()
    await app.vault.start()  # encrypts the name (NetworkRepository.seal_name)
    for _ in range(5):
        await bare_chat.send(str(uuid.uuid4()), "hello")
    assert canaries.hits(await sql_dump(app.db)) == []  # what SQL shows is fine...
    copy = await at_rest(app.db)
    if any(p.startswith("pgfile:") for p in copy.parts):
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="BUG: the plaintext network name from `lantern init` "
                "(Network.name_pending, bot/setup.py) survives seal_name as a dead "
                "PostgreSQL row version in the network table's heap file",
            )
        )
    hits = copy.hits(canaries)
    print(f"\nnetwork name after first start: {len(hits)} hits {sorted(set(hits))[:3]}")
    assert hits == []  # ...and the files must not hold the old bytes either


# --- threat 2: offline index attack ---------------------------------------------------

CANDIDATES = 1_000_000
_IPAD = hashlib.sha256(b"\x36" * 64)  # HMAC-SHA256 with an empty key, precomputed
_OPAD = hashlib.sha256(b"\x5c" * 64)


def hmac_empty_key(message: bytes) -> bytes:
    inner = _IPAD.copy()
    inner.update(message)
    outer = _OPAD.copy()
    outer.update(inner.digest())
    return outer.digest()


def random_candidates(n: int) -> list[bytes]:
    """Half random account UUIDs, half E.164 numbers of one country's mobile range."""
    raw = os.urandom(16 * (n // 2)).hex()
    uuids = [
        f"{raw[i : i + 8]}-{raw[i + 8 : i + 12]}-4{raw[i + 13 : i + 16]}-a{raw[i + 17 : i + 20]}-"
        f"{raw[i + 20 : i + 32]}".encode()
        for i in range(0, len(raw), 32)
    ]
    return uuids + [f"+346{i:08d}".encode() for i in range(n - len(uuids))]


def attack(candidates: Iterable[bytes], targets: set[bytes], prefixes: list[bytes]) -> int:
    """Matches of SHA-256(v), HMAC-SHA256(empty key, "account\\0" v) and SHA-256(prefix v)
    for each prefix (purpose tags, salts), first or last 16 bytes, against the targets."""
    sha = hashlib.sha256
    matches = 0
    for value in candidates:
        digests = [sha(value).digest(), hmac_empty_key(b"account\x00" + value)]
        digests += [sha(prefix + value).digest() for prefix in prefixes]
        for d in digests:
            if d[:16] in targets or d[16:] in targets:
                matches += 1
    return matches


def test_offline_index_attack_matches_nothing(request: pytest.FixtureRequest) -> None:
    """Threat 2: with the database only (no keys), unkeyed SHA-256, salted SHA-256 and
    empty-key HMAC of 10^6 candidate numbers and UUIDs (the real accounts among them),
    of every real handle and invite code and of every real account|timestamp pair, match
    none of the 16-byte values stored in either backend's database."""
    found = [request.getfixturevalue("evidence_sqlite")]
    with contextlib.suppress(pytest.skip.Exception):  # a local run without PostgreSQL
        found.append(request.getfixturevalue("evidence_postgresql"))
    targets = set().union(*(e.targets for e in found))
    assert len(targets) >= 40, "expected the members', invites' and journal's indexes"
    real: list[bytes] = []
    for e in found:
        people = list(e.scenario.people.values())
        real += [a.encode() for a in people] + [a.upper().encode() for a in people]
        real += [a.replace("-", "").encode() for a in people]
        real += [h.encode() for h in e.scenario.handles.values()]
        real += [c.encode() for c in e.scenario.codes]
        real += [c.replace("-", "").encode() for c in e.scenario.codes]
        last = e.scenario.chat._ts  # the timestamps the scenario used (dedupe keys)
        real += [f"{a}|{ts}".encode() for a in people for ts in range(last - 300, last + 1)]
    purposes = [p + b"\x00" for p in (b"account", b"handle", b"invite", b"inbound")]
    salts = [s for e in found for s in e.salts]
    # positive controls: the empty-key HMAC is HMAC; an unkeyed index would be found
    assert hmac_empty_key(real[0]) == hmac.digest(b"", real[0], "sha256")
    assert attack(real[:1], {hashlib.sha256(purposes[0] + real[0]).digest()[:16]}, purposes) == 1

    started = time.perf_counter()
    sweep = random_candidates(CANDIDATES - len(real)) + real
    matches = attack(sweep, targets, [purposes[0], salts[0]])
    matches += attack(real, targets, purposes + salts)  # every variant on the real values
    elapsed = time.perf_counter() - started
    print(
        f"\nindex attack ({', '.join(e.backend for e in found)}): {len(sweep)} candidates "
        f"x 5 digests + {len(real)} real values x {3 + len(purposes + salts)} digests vs "
        f"{len(targets)} stored 16-byte values: {matches} matches in {elapsed:.1f} s"
    )
    assert matches == 0


# --- threat 9: infiltrator member -----------------------------------------------------


def mentions(texts: Iterable[str], word: str) -> bool:
    pattern = re.compile(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", re.IGNORECASE)
    return any(pattern.search(t) for t in texts)


def test_infiltrator_member_receives_no_other_members_identifiers(evidence: Evidence) -> None:
    """Threat 9: everything each ordinary member received over the whole scenario
    (replies, notices, timers) names nobody else: no account UUID in any form, no other
    person's handle, no name or ref of a cell they are not in."""
    s = evidence.scenario
    checked = 0
    for account in sorted(s.members):
        received = evidence.received(account)
        assert received, "every member got replies"
        others = Canaries()
        for label, other in s.people.items():
            if other != account:
                others.add_uuid(label, other)
        for ref, names in s.cell_names.items():
            if ref not in s.cells_of[account]:
                for i, name in enumerate(names):
                    others.add_text(f"cell {ref} name {i}", name)
        leaks = others.hits("\n".join(received))
        handles = [h for o, h in s.handles.items() if o != account and mentions(received, h)]
        refs = [r for r in s.cell_names if r not in s.cells_of[account] and mentions(received, r)]
        assert (leaks, handles, refs) == ([], [], []), account
        checked += 1
    mole = s.people["mole"]
    assert mentions(evidence.received(mole), s.handles[mole])  # the check can see a handle
    print(f"\n[{evidence.backend}] infiltrator: {checked} members, 0 foreign identifiers")
    assert checked >= 5


# --- threat 11: logs at DEBUG ---------------------------------------------------------


def test_logs_at_debug_for_every_library_hold_no_canary(evidence: Evidence) -> None:
    """Threat 11: the whole scenario (bootstrap, enrollment and share dealing included)
    with the root logger, structlog and every library (SQLAlchemy, aiosqlite, asyncpg,
    signalbot, asyncio) at DEBUG, plus anything printed: 0 canaries."""
    logs = evidence.logs
    assert "event='handled'" in logs and "event='shares_dealt'" in logs
    assert "DEBUG sqlalchemy.engine" in logs  # libraries really logged at DEBUG
    hits = evidence.scenario.canaries.hits(logs)
    print(f"\n[{evidence.backend}] logs at DEBUG: {len(logs.splitlines())} lines, {len(hits)} hits")
    assert hits == []


def test_log_capture_would_see_a_leak() -> None:
    """Positive control for threat 11: a careless library debug line is captured."""
    with debug_logs(every_library=True) as sink:
        logging.getLogger("aiosqlite").debug("row %s", TEXT_ES)
    assert TEXT_ES in sink.getvalue()
