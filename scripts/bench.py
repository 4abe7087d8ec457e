"""Per-command latency through the real dispatcher, by network size and backend.

Not a test: run it and read the numbers::

    .venv/bin/python scripts/bench.py [--sizes 1000,10000] [--backend sqlite|postgresql|both]

For every backend and size, on a fresh SQLite file or a throw-away PostgreSQL database
(``lantern_bench_*``, created next to ``--postgres`` and dropped afterwards):

1. the network is bootstrapped the way a real one is — ``init_network``, then through
   ``Dispatcher.on_text``: three coordinators enroll, shares are dealt, ``cell new``,
   ``invite <ref> organizer``, the organizer joins — and the other members are created
   directly with the repositories (per-record data keys, memberships), one cell per 50
   members and at least 20: a bigger network has more cells, not bigger ones;
2. the network also gets cases, one per 10 members (at least 100), as the repositories
   make them (``CaseRepository.create``: a data key each, encrypted body and history),
   in every status, spread over the cells; every cell is open for intake and covers 10
   places (``RoutingRepository.add_site``); one organizer's cell holds 20 more open
   cases (their queue); intake drafts are taken from one intake walked through messages;
3. ``me``, ``cells``, ``help``, a stranger's message and a full join (the organizer's
   ``invite`` + the 4 join steps) are timed through ``Dispatcher.on_text`` with a null
   messenger, so the numbers are Lantern's own cost (rate limit, sealed journal, one
   transaction, lookups, envelope crypto, reply screening) without Signal;
4. casework is timed the same way: an intake answer mid-dialog, the name answer that
   brings the group menu, the intake confirmation (case created, routed by place),
   ``cases`` (a queue of 20), ``case <id>``, ``vote <id> yes``, the subject's
   ``reply <id> …``, and ``Timers.tick()`` with nothing due and with one vote due, each
   with the number of SQL statements it ran;
5. the cost of envelope encryption per lookup is isolated (``MemberRepository.by_account``
   vs the bare indexed SELECT vs just the data-key unwrap + decrypt);
6. the cost of sealing the inbound journal (HPKE) is isolated.

All sizes of a backend are built first, then measured side by side, round-robin.  With
both backends, each runs in a process of its own: they are built at the same time, then
measured one after the other, so nothing else of the benchmark runs during a timing.

The dispatcher gets a rate limiter with a very high limit: the benchmark sends hundreds
of messages a second from a few accounts, which the real 30/minute limit would drop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import random
import re
import secrets
import statistics
import string
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from threading import BrokenBarrierError
from typing import Any, ClassVar

from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import LanternApp
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.i18n import translate
from bot.identities import Identity
from bot.logging import configure_logging
from bot.ratelimit import RateLimiter
from bot.setup import init_network
from handlers.intake import MENU_MAX
from security import BacklogSealer, Keyring
from storage.common import ad
from storage.db import execute_autocommit, is_sqlite
from storage.journal import JournalRepository
from storage.members import PURPOSE as MEMBER_PURPOSE
from storage.migrate import upgrade
from storage.models import Case, DataKey, InboundJournal, Member, utcnow
from storage.repositories import Repositories

PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BOOTSTRAPPED = 4  # three coordinators and the first organizer, created through messages
CELLS = 20  # at least this many cells, at any size
MIN_SIZE = 200  # smaller cells than ~10 members make votes close at once
BATCH = 1000
WARMUP = 20
REF = re.compile(r"\(ref ([0-9A-Z]{5})\)")
CODE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$")
COMMANDS = ("me", "cells", "help", "stranger", "join")

# casework: a bigger network has more cells (of about CELL_SIZE members), not bigger ones
CELL_SIZE = 50
CASE_EVERY = 10  # one case per ten members …
MIN_CASES = 100  # … and never fewer (the pools below need voting and assessing cases)
SITES = 10  # places each cell covers, for routing intake by place
QUEUE = 20  # open cases added to one organizer's cell: the queue `cases` shows
POOL = 10  # voting / assessing cases the `vote` and vote-due `tick` samples go round
CASE_WARMUP = 5
CASE_REF = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b")
# statuses of the seeded cases, in these proportions; "kept" is closed 200 days ago and
# kept by its cell (past retention: what the retention sweep must step over)
MIX: tuple[str, ...] = (
    *("new",) * 5,
    *("assessing",) * 3,
    *("voting",) * 2,
    "accepted",
    *("active",) * 3,
    *("closed",) * 3,
    *("kept",) * 3,
)
ANSWERS = {
    "what": "The landlord kept the deposits of everyone who moved out this year",
    "target": "Acme Properties, manager J. Doe",
    "site": "12 Oak Street apt 4",
    "demand": "Return every deposit in full",
    "others": "Six families in the building",
    "others_act": "yes",
    "contact": "Messages only, evenings after 6",
}
INTAKE = ("answer", "menu", "confirm")
CASEWORK = ("cases", "case", "vote", "reply", "tick", "tick_vote")

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=132)


class NullMessenger:
    """Delivers nothing and records nothing, except the texts sent to ``watch`` while it
    names an account (to read a ref or an invite code back)."""

    def __init__(self) -> None:
        self.watch: str | None = None
        self.seen: list[str] = []

    async def send_text(self, account: str, text: str) -> None:
        if account == self.watch:
            self.seen.append(text)

    async def set_timer(self, account: str, seconds: int) -> None:
        return None

    async def identity(self, account: str) -> Identity | None:
        return None

    async def trust(self, account: str, safety_number: str) -> None:
        return None


@dataclass(frozen=True)
class Seeded:
    """A case made by the benchmark, and who may act on it."""

    id: str
    ref: str
    cell: int  # index into Bench.cells
    status: str  # as in MIX
    subject: str


@dataclass
class Bench:
    app: LanternApp
    dispatcher: Dispatcher
    messenger: NullMessenger
    backend: str
    size: int
    organizer: str = ""
    ref: str = ""
    members: list[str] = field(default_factory=list)
    ts: int = 1_700_000_000_000
    handles: int = 0
    commands: dict[str, list[float]] = field(default_factory=dict)
    lookups: dict[str, list[float]] = field(
        default_factory=lambda: {"by_account": [], "row": [], "crypto": []}
    )
    journal: dict[str, list[float]] = field(default_factory=dict)
    cells: list[str] = field(default_factory=list)  # populate's cells (not Riverside)
    cell_members: list[list[str]] = field(default_factory=list)  # accounts, by home cell
    cases: list[Seeded] = field(default_factory=list)
    drafts: dict[str, list[str]] = field(default_factory=dict)  # intake state -> accounts
    expected_cell: dict[str, int] = field(default_factory=dict)  # confirm draft -> cell
    casework: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, list[int]] = field(default_factory=dict)
    executed: int = 0  # SQL statements run on this network's engine so far

    @property
    def label(self) -> str:
        return f"{self.backend} {self.size}"

    async def send(self, account: str, body: str) -> None:
        self.ts += 1
        await self.dispatcher.on_text(account, self.ts, body)

    async def ask(self, account: str, body: str) -> list[str]:
        """Send and return the texts the bot sent back to that account."""
        self.messenger.watch, self.messenger.seen = account, []
        try:
            await self.send(account, body)
            return self.messenger.seen
        finally:
            self.messenger.watch = None

    @property
    def keys(self) -> Keyring:
        keys = self.app.vault.keys
        if keys is None:
            raise RuntimeError("the vault is sealed")
        return keys

    def new_handle(self, prefix: str) -> str:
        """Unique, valid handles (letters only: six digits would look like a number)."""
        self.handles += 1
        n, letters = self.handles, ""
        while n:
            n, r = divmod(n, 26)
            letters += string.ascii_lowercase[r]
        return prefix + letters


def code_in(texts: list[str]) -> str:
    for line in reversed(texts):
        if CODE.match(line.strip()):
            return line.strip()
    raise RuntimeError(f"no invite code in the replies: {texts!r}")


def ms(seconds: float) -> float:
    return seconds * 1000


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible seeding and sampling, not crypto


# --- 1. building the network ---------------------------------------------------------------


async def bootstrap(bench: Bench) -> None:
    """init → enroll ×3 → shares dealt → ``cell new`` → organizer invited and joined."""
    app = bench.app
    codes = await init_network(app.db, name="Bench network", coordinators=3, threshold=2)
    await app.vault.start()
    coordinators = [str(uuid.uuid4()) for _ in codes]
    for i, (who, code) in enumerate(zip(coordinators, codes, strict=True), start=1):
        for body in (f"enroll {code}", "en", f"coord{i}", "yes"):
            await bench.send(who, body)
    if app.vault.enrolling or app.vault.sealed:
        raise RuntimeError("enrollment did not complete")
    found = REF.search("\n".join(await bench.ask(coordinators[0], "cell new Riverside tenants")))
    if found is None:
        raise RuntimeError("`cell new` gave no ref")
    bench.ref = found.group(1)
    code = code_in(await bench.ask(coordinators[0], f"invite {bench.ref} organizer"))
    bench.organizer = str(uuid.uuid4())
    for body in (f"join {code}", "en", "orga"):
        await bench.send(bench.organizer, body)
    done = await bench.ask(bench.organizer, "yes")
    if not any(t.startswith("Welcome, orga!") for t in done):
        raise RuntimeError(f"the organizer did not join: {done!r}")


def cell_count(size: int) -> int:
    return max(CELLS, size // CELL_SIZE)


async def populate(bench: Bench, count: int, label: str) -> None:
    """The other members, directly through the repositories, in batches.  Member ``i``
    lives in cell ``i % cells``; the first member of each cell is its organizer."""
    app, keys = bench.app, bench.keys
    cells = cell_count(bench.size)
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        bench.cells = [(await repos.cells.create(f"Cell {i + 1}")).id for i in range(cells)]
    bench.cell_members = [[] for _ in range(cells)]
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        async with app.db.transaction() as session:
            repos = Repositories(session, keys)
            for i in range(start, min(count, start + BATCH)):
                account = str(uuid.uuid4())
                home = bench.cells[i % cells]
                member = await repos.members.create(
                    account=account,
                    handle=bench.new_handle("m"),
                    language="es" if i % 4 == 0 else "en",
                    role="member",
                    timer_seconds=app.settings.disappearing_timer,
                    home_cell_id=home,
                )
                role = "organizer" if i < cells else "member"
                await repos.cells.add_member(member.id, home, role)
                if i % 10 == 0:  # some people are in two cells
                    await repos.cells.add_member(member.id, bench.cells[(i + 7) % cells], "member")
                bench.members.append(account)
                bench.cell_members[i % cells].append(account)
        done = min(count, start + BATCH)
        if done == count or done % (BATCH * 2) == 0:
            console.print(
                f"  {label}: {done + BOOTSTRAPPED:>6}/{count + BOOTSTRAPPED} members "
                f"in {cells} cells ({time.perf_counter() - started:5.1f} s)"
            )


async def settle(url: str) -> None:
    """Statistics and a clean heap / WAL, as a database in service would have (autovacuum,
    checkpoints), so background work after the bulk load does not land in the timings."""
    if is_sqlite(url):
        await execute_autocommit(url, "ANALYZE")
        await execute_autocommit(url, "PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await execute_autocommit(url, "VACUUM ANALYZE")


# --- 1b. places, cases and intake drafts ---------------------------------------------------


def site(cell: int, k: int) -> str:
    """A place only that cell covers (matching is by runs of whole words, numbers too)."""
    return f"{cell * SITES + k + 1} Oak Street"


async def open_intake(bench: Bench) -> None:
    """Every cell takes fights under a public label and covers SITES places."""
    async with bench.app.db.transaction() as session:
        routing = Repositories(session, bench.keys).routing
        for i, cell_id in enumerate(bench.cells):
            await routing.open(cell_id, f"Group {i + 1}")
            for k in range(SITES):
                if not await routing.add_site(cell_id, site(i, k)):
                    raise RuntimeError(f"place refused: {site(i, k)!r}")


async def seed_cases(bench: Bench, label: str) -> None:
    """Cases in every status (MIX), round-robin over the cells, in batches; then QUEUE
    more open ones in the first cell, whose organizer sends ``cases``."""
    total = max(bench.size // CASE_EVERY, MIN_CASES)
    rng = seeded(bench.size)
    statuses = [MIX[j % len(MIX)] for j in range(total)]
    rng.shuffle(statuses)
    plan = [(j % len(bench.cells), status) for j, status in enumerate(statuses)]
    plan += [(0, "new" if k % 2 else "assessing") for k in range(QUEUE)]
    started, now = time.perf_counter(), utcnow()
    for start in range(0, len(plan), BATCH):
        async with bench.app.db.transaction() as session:
            for cell, status in plan[start : start + BATCH]:
                spanish = rng.random() < 0.25
                bench.cases.append(await seed_case(bench, session, cell, status, now, spanish))
    console.print(
        f"  {label}: {len(plan)} cases, {len(bench.cells) * SITES} places "
        f"({time.perf_counter() - started:5.1f} s)"
    )


async def seed_case(
    bench: Bench,
    session: AsyncSession,
    cell: int,
    status: str,
    now: datetime,
    spanish: bool,
) -> Seeded:
    """One case, created as intake creates it and set straight to its status, with a
    short history (opened, assessed, current status, rung), so ``case <id>`` has lines to
    show.  The case and data-key rows are held for the duration: the session's identity
    map is weak, and each history line would otherwise SELECT both again."""
    cases, who = Repositories(session, bench.keys).cases, bench.new_handle("o")
    subject = str(uuid.uuid4())
    case = await cases.create(
        bench.cells[cell],
        subject_account=subject,
        subject_name="Rosa",
        language="es" if spanish else "en",
        answers=ANSWERS,
        now=now,
    )
    row = await session.get(Case, case.id)
    assert row is not None
    held = await session.get(DataKey, row.dek_id)
    assert held is not None
    await cases.add_event(case.id, "status", who="Rosa", now=now, after="new")
    if status == "new":
        return Seeded(case.id, case.ref, cell, status, subject)
    ladder = list(bench.app.settings.ladder)
    assessment = {"attainable": "yes", "leverage": "unsure", "committed": "yes"}
    assessment |= {"others": "yes", "capacity": "no", "comment": "Ask the union first"}
    body: dict[str, Any] = {"assessment": assessment}
    if status not in ("assessing", "voting"):
        body["ladder"] = ladder
    await cases.update_body(case.id, **body)
    await cases.add_event(case.id, "assessment", who=who, now=now, text="✓ ? ✓ ✓ ✗")
    after = {"kept": "closed", "closed": "closed"}.get(status, status)
    when = now - timedelta(days=200 if status == "kept" else 10 if status == "closed" else 0)
    if status == "voting":
        deadline = now + timedelta(hours=bench.app.settings.vote_hours)
        await cases.open_vote(case.id, deadline=deadline, now=now)
    else:
        outcome = "won" if after == "closed" else None
        await cases.set_status(case.id, after, now=when, outcome=outcome)
    before = {"assessing": "new", "active": "accepted", "closed": "active", "kept": "active"}
    was = before.get(status, "assessing")
    await cases.add_event(case.id, "status", who=who, now=when, before=was, after=after)
    if status in ("active", "closed", "kept"):
        await cases.set_rung(case.id, 1, now=when)
        await cases.add_event(case.id, "rung", who=who, now=when, text=ladder[0])
    if status == "kept":
        await cases.set_keep(case.id, True)
    return Seeded(case.id, case.ref, cell, status, subject)


async def read_draft(bench: Bench, account: str) -> tuple[str, str, dict[str, Any]] | None:
    async with bench.app.db.transaction() as session:
        draft = await Repositories(session, bench.keys).dialogs.get(account, now=utcnow())
    return None if draft is None else (draft.flow, draft.state, draft.data)


async def walk_intake(bench: Bench) -> dict[str, tuple[str, dict[str, Any]]]:
    """One intake through messages, as a stranger: checks the questions come in order
    and the case is routed by place, and returns the draft as the flow stored it just
    before the answers that are timed (``target``, ``name``, ``confirm``)."""
    who, cell = str(uuid.uuid4()), len(bench.cells) - 1
    place = f"{site(cell, SITES - 1)} apt 4"
    steps = [
        ("intake", None),
        ("en", "language"),
        (ANSWERS["what"], "what"),
        (ANSWERS["target"], "target"),
        (place, "site"),
        (ANSWERS["demand"], "demand"),
        (ANSWERS["others"], "others"),
        ("1", "others_act"),
        ("yes", "commit"),
        (ANSWERS["contact"], "contact"),
        ("Rosa", "name"),
        ("0", "cell"),  # none of the groups: route by place
        ("yes", "confirm"),
    ]
    snapshots: dict[str, tuple[str, dict[str, Any]]] = {}
    replies: dict[str, list[str]] = {}
    for body, state in steps:
        draft = await read_draft(bench, who)
        at = None if draft is None else draft[1]
        if state == "cell" and at == "confirm" and len(bench.cells) > MENU_MAX:
            continue  # too many groups for a menu: the place decides
        if at != state:
            raise RuntimeError(f"intake: expected question {state!r}, the draft is at {at!r}")
        if draft is not None and state in ("target", "name", "confirm"):
            snapshots[state] = (draft[0], draft[2])
        replies[str(state)] = await bench.ask(who, body)
    if replies["target"] != [translate("en", "intake.ask_site")]:
        raise RuntimeError(f"intake answer: unexpected reply {replies['target']!r}")
    if len(bench.cells) <= MENU_MAX:
        last = f"{len(bench.cells)}. Group {len(bench.cells)}"
        if len(replies["name"]) != 1 or last not in replies["name"][0]:
            raise RuntimeError(f"intake: no menu of {len(bench.cells)} groups: {replies['name']!r}")
    elif translate("en", "intake.ask_confirm") not in replies["name"]:
        raise RuntimeError(f"intake: expected the summary, got {replies['name']!r}")
    found = CASE_REF.search("\n".join(replies["confirm"]))
    done = found and translate("en", "intake.done", ref=found.group(1))
    if found is None or done not in replies["confirm"]:
        raise RuntimeError(f"intake did not create a case: {replies['confirm']!r}")
    if await case_cell(bench, found.group(1)) != bench.cells[cell]:
        raise RuntimeError("intake: the case was not routed by place")
    return snapshots


async def case_cell(bench: Bench, ref: str) -> str | None:
    async with bench.app.db.transaction() as session:
        found = await Repositories(session, bench.keys).cases.locate(ref)
    return None if found is None else found[1]


async def seed_drafts(
    bench: Bench, snapshots: dict[str, tuple[str, dict[str, Any]]], count: int
) -> None:
    """``count`` strangers' drafts at each timed question, as the walk left its own;
    each draft about to be confirmed names a place of a random cell."""
    rng = seeded(bench.size + 1)
    async with bench.app.db.transaction() as session:
        dialogs = Repositories(session, bench.keys).dialogs
        for state, (flow, data) in snapshots.items():
            life, remind = bench.dispatcher.router.lifetime(flow, bench.app.settings)
            accounts = bench.drafts.setdefault(state, [])
            for _ in range(count):
                account, draft = str(uuid.uuid4()), dict(data)
                if state == "confirm":
                    cell = rng.randrange(len(bench.cells))
                    draft["site"] = f"{site(cell, rng.randrange(SITES))} apt 4"
                    bench.expected_cell[account] = cell
                expires = utcnow() + life
                await dialogs.save(
                    account,
                    flow=flow,
                    state=state,
                    data=draft,
                    expires_at=expires,
                    remind_at=None if remind is None else expires - remind,
                )
                accounts.append(account)


async def seed_casework(bench: Bench, rounds: int) -> None:
    started = time.perf_counter()
    await open_intake(bench)
    await seed_cases(bench, bench.label)
    await seed_drafts(bench, await walk_intake(bench), CASE_WARMUP + rounds + 1)
    console.print(
        f"  {bench.label}: intake walked, {len(bench.drafts) * (CASE_WARMUP + rounds + 1)} "
        f"drafts ({time.perf_counter() - started:5.1f} s for all casework)"
    )


# --- 2. per-command latency ----------------------------------------------------------------


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(len(ordered) * 0.95) - 1)]


async def check_replies(bench: Bench) -> None:
    """One of each, read back: the timed commands must not be error paths."""
    error = translate("en", "error.internal")
    member = bench.members[-1]
    for body in ("me", "cells", "help"):
        replies = await bench.ask(member, body)
        if not replies or error in replies or replies[0] == translate("en", "unknown.hint"):
            raise RuntimeError(f"`{body}` did not answer normally: {replies!r}")
    stranger = await bench.ask(str(uuid.uuid4()), "hello")
    if stranger != [translate("en", "stranger.reply")]:
        raise RuntimeError(f"stranger reply unexpected: {stranger!r}")
    await join_once(bench, check=True)


async def join_once(bench: Bench, check: bool = False) -> None:
    """The organizer's ``invite``, then ``join <code>``, language, handle, ``yes``."""
    code = code_in(await bench.ask(bench.organizer, f"invite {bench.ref} member"))
    newcomer, handle = str(uuid.uuid4()), bench.new_handle("j")
    for body in (f"join {code}", "en", handle):
        await bench.send(newcomer, body)
    if check:
        done = await bench.ask(newcomer, "yes")
        want = translate("en", "join.done", handle=handle, cell="Riverside tenants", ref=bench.ref)
        if done != [want]:
            raise RuntimeError(f"join did not complete: {done!r}")
    else:
        await bench.send(newcomer, "yes")


async def member_count(bench: Bench) -> int:
    async with bench.app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Member)) or 0)


def command(bench: Bench, name: str, account: str) -> Awaitable[None]:
    if name == "join":
        return join_once(bench)
    if name == "stranger":
        return bench.send(str(uuid.uuid4()), "hello")
    return bench.send(account, name)


async def time_commands(benches: list[Bench], rounds: int) -> None:
    """Round-robin over sizes and commands, so load from elsewhere hits all alike."""
    picks, before = {}, {}
    for bench in benches:
        await check_replies(bench)
        picks[bench.size] = random.sample(bench.members, min(len(bench.members), rounds + WARMUP))
        before[bench.size] = await member_count(bench)
    for i in range(WARMUP + rounds):
        if i == WARMUP:
            gc.collect()
        for bench in benches:
            account = picks[bench.size][i % len(picks[bench.size])]
            for name in COMMANDS:
                started = time.perf_counter()
                await command(bench, name, account)
                if i >= WARMUP:
                    bench.commands.setdefault(name, []).append(ms(time.perf_counter() - started))
    for bench in benches:
        if await member_count(bench) != before[bench.size] + rounds + WARMUP:
            raise RuntimeError("not every timed join created a member")


# --- 2b. casework latency ------------------------------------------------------------------


class CaseSamples:
    """What one casework sample sends, and from whom; the untimed preparation."""

    BODIES: ClassVar = {"answer": ANSWERS["target"], "menu": "Rosa", "confirm": "yes"}
    STATES: ClassVar = {"answer": "target", "menu": "name", "confirm": "confirm"}

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.rng = seeded(bench.size + 2)
        spread = bench.cases[: len(bench.cases) - QUEUE]  # not the queue cell's extras
        self.voting = [c for c in spread if c.status == "voting"][:POOL]
        self.assessing = [c for c in spread if c.status == "assessing"][:POOL]
        self.open = [c for c in bench.cases if c.status not in ("closed", "kept")]
        if not self.voting or not self.assessing:
            raise RuntimeError("no voting or assessing cases to time")

    @property
    def queue_organizer(self) -> str:
        return self.bench.members[0]  # organizer of cells[0], which has QUEUE extra cases

    def organizer(self, case: Seeded) -> str:
        return self.bench.members[case.cell]  # member i < cells organizes cell i

    def voter(self, case: Seeded, i: int) -> str:
        """A different plain member of the case's cell for each round on that case."""
        voters = self.bench.cell_members[case.cell][1:] or self.bench.cell_members[case.cell]
        return voters[(i // len(self.voting)) % len(voters)]

    async def prepare(self, name: str, i: int) -> Callable[[], Awaitable[object]]:
        bench = self.bench
        if name in INTAKE:
            account, body = bench.drafts[self.STATES[name]].pop(), self.BODIES[name]
            return lambda: bench.send(account, body)
        if name == "cases":
            return lambda: bench.send(self.queue_organizer, "cases")
        if name == "case":
            case = self.rng.choice(bench.cases)
            return lambda: bench.send(self.organizer(case), f"case {case.ref}")
        if name == "vote":
            case = self.voting[i % len(self.voting)]
            return lambda: bench.send(self.voter(case, i), f"vote {case.ref} yes")
        if name == "reply":
            case = self.rng.choice(self.open)
            return lambda: bench.send(case.subject, f"reply {case.ref} The manager came again")
        if name == "tick":
            return lambda: self.tick(0)
        case = self.assessing[i % len(self.assessing)]  # tick_vote: a vote past its deadline
        async with bench.app.db.transaction() as session:
            now = utcnow()
            cases = Repositories(session, bench.keys).cases
            await cases.open_vote(case.id, deadline=now - timedelta(hours=1), now=now)
        return lambda: self.tick(1)

    async def tick(self, due: int) -> None:
        done = await self.bench.dispatcher.timers.tick()
        if done != due:
            raise RuntimeError(f"timers.tick() did {done} items, expected {due}")


async def check_casework(samples: CaseSamples) -> None:
    """One of each, read back: the timed casework must not take error or refusal paths."""
    bench = samples.bench
    account = bench.drafts["confirm"].pop()
    replies = await bench.ask(account, "yes")
    found = CASE_REF.search("\n".join(replies))
    if found is None or translate("en", "intake.done", ref=found.group(1)) not in replies:
        raise RuntimeError(f"intake confirmation: {replies!r}")
    if await case_cell(bench, found.group(1)) != bench.cells[bench.expected_cell[account]]:
        raise RuntimeError("intake confirmation: not routed by place")
    queue = await bench.ask(samples.queue_organizer, "cases")
    if len(queue) != 1 or len(queue[0].split("\n")) != QUEUE + 1:
        raise RuntimeError(f"`cases` did not list a queue of {QUEUE}: {queue!r}")
    case = samples.rng.choice(bench.cases)
    shown = await bench.ask(samples.organizer(case), f"case {case.ref}")
    if len(shown) != 1 or ANSWERS["what"] not in shown[0] or case.ref not in shown[0]:
        raise RuntimeError(f"`case <id>` did not show the case: {shown!r}")
    case = samples.voting[0]
    await bench.ask(bench.cell_members[case.cell][-1], f"vote {case.ref} yes")
    async with bench.app.db.transaction() as session:
        if sum((await Repositories(session, bench.keys).ballots.tally(case.id)).values()) != 1:
            raise RuntimeError("`vote <id> yes` recorded no ballot")
    case = samples.open[0]
    sent = await bench.ask(case.subject, f"reply {case.ref} Any news?")
    want = translate(bench.app.settings.default_language, "reply.sent_to_organizers", ref=case.ref)
    if sent != [want]:
        raise RuntimeError(f"`reply <id>` from the subject: {sent!r}")
    await (await samples.prepare("tick", 0))()
    await (await samples.prepare("tick_vote", 0))()
    async with bench.app.db.transaction() as session:
        closed = await Repositories(session, bench.keys).cases.by_id(samples.assessing[0].id)
    if closed is None or closed.status != "assessing":
        raise RuntimeError("the vote due was not counted by timers.tick()")


async def case_count(bench: Bench) -> int:
    async with bench.app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def time_casework(benches: list[Bench], rounds: int) -> None:
    """Like :func:`time_commands`: round-robin over sizes and casework."""
    samples, before = {}, {}
    for bench in benches:
        samples[bench.size] = CaseSamples(bench)
        await check_casework(samples[bench.size])
        before[bench.size] = await case_count(bench)
    for i in range(CASE_WARMUP + rounds):
        if i == CASE_WARMUP:
            gc.collect()
        for bench in benches:
            for name in (*INTAKE, *CASEWORK):
                run = await samples[bench.size].prepare(name, i)
                executed, started = bench.executed, time.perf_counter()
                await run()
                elapsed = ms(time.perf_counter() - started)
                if i >= CASE_WARMUP:
                    bench.casework.setdefault(name, []).append(elapsed)
                    bench.statements.setdefault(name, []).append(bench.executed - executed)
    for bench in benches:
        if await case_count(bench) != before[bench.size] + rounds + CASE_WARMUP:
            raise RuntimeError("not every timed intake confirmation created a case")


# --- 3. envelope encryption per lookup -----------------------------------------------------


async def lookup_once(bench: Bench, session: AsyncSession, account: str) -> None:
    """by_account; the bare indexed SELECT of the row; just the unwrap + decrypt."""
    repos = Repositories(session, bench.keys)
    members, keystore = repos.members, repos.keys

    session.expunge_all()  # cold: nothing of this member in the session
    started = time.perf_counter()
    view = await members.by_account(account)
    bench.lookups["by_account"].append(ms(time.perf_counter() - started))
    assert view is not None

    session.expunge_all()
    started = time.perf_counter()
    row = await session.scalar(
        select(Member).where(Member.account_bidx == members.account_index(account))
    )
    bench.lookups["row"].append(ms(time.perf_counter() - started))
    assert row is not None

    # the data-key row held in the session (its identity map is weak: keep a reference),
    # so only the KEK lookup, the unwrap and the decrypt are timed
    held = await session.get(DataKey, row.dek_id)
    assert held is not None
    started = time.perf_counter()
    dek = await keystore.data_key(row.dek_id, MEMBER_PURPOSE, row.id)
    handle = dek.decrypt_text(row.handle_ct, ad=ad("members", "handle", row.id))
    bench.lookups["crypto"].append(ms(time.perf_counter() - started))
    assert handle == view.handle


async def time_lookups(benches: list[Bench], rounds: int) -> None:
    """Distinct members per size, each read cold, in one open transaction per size."""
    async with AsyncExitStack() as stack:
        sessions = {}
        for bench in benches:
            session = await stack.enter_async_context(bench.app.db.transaction())
            await session.execute(select(1))  # BEGIN is sent here, not in the first sample
            sessions[bench.size] = session
        picks = {b.size: random.sample(b.members, min(len(b.members), rounds)) for b in benches}
        for i in range(rounds):
            for bench in benches:
                chosen = picks[bench.size]
                await lookup_once(bench, sessions[bench.size], chosen[i % len(chosen)])


# --- 4. sealed journal ---------------------------------------------------------------------


def journal_writes(bench: Bench) -> dict[str, Callable[[], Awaitable[None]]]:
    """One inbound message written to the journal in its own transaction, as on_text does."""
    db, keys = bench.app.db, bench.keys
    sealer = BacklogSealer(keys.backlog_public)
    body = {"text": "me"}

    async def sealed_bot() -> None:  # HPKE, no keys: what a sealed process does
        bench.ts += 1
        async with db.transaction() as session:
            await JournalRepository(session, sealer, None).record(
                str(uuid.uuid4()), bench.ts, "text", body
            )

    async def unsealed_bot() -> None:  # HPKE + keyed duplicate check
        bench.ts += 1
        async with db.transaction() as session:
            await JournalRepository(session, sealer, keys).record(
                str(uuid.uuid4()), bench.ts, "text", body
            )

    async def plain() -> None:  # the same row with the payload not sealed
        bench.ts += 1
        payload = json.dumps({"account": str(uuid.uuid4()), "ts": bench.ts, **body}).encode()
        async with db.transaction() as session:
            session.add(
                InboundJournal(
                    dedupe_key=None,
                    kind="text",
                    sealed_ct=payload,
                    received_at=utcnow().replace(minute=0, second=0, microsecond=0),
                )
            )
            await session.flush()

    async def hpke_only() -> None:
        payload = json.dumps({"account": str(uuid.uuid4()), "ts": 0, **body}).encode()
        sealer.seal(payload, info=b"lantern/inbound/v1")

    return {"sealed": sealed_bot, "unsealed_bot": unsealed_bot, "plain": plain, "hpke": hpke_only}


async def time_journal(benches: list[Bench], rounds: int) -> None:
    floors, writes = {}, {}
    for bench in benches:
        async with bench.app.db.transaction() as session:
            found = await session.scalar(select(func.max(InboundJournal.id)))
            floors[bench.size] = int(found or 0)
        writes[bench.size] = journal_writes(bench)
    for i in range(WARMUP + rounds):
        for bench in benches:
            for name, write in writes[bench.size].items():
                started = time.perf_counter()
                await write()
                if i >= WARMUP:
                    bench.journal.setdefault(name, []).append(ms(time.perf_counter() - started))
    for bench in benches:  # unhandled entries nobody should ever drain
        async with bench.app.db.transaction() as session:
            await session.execute(
                delete(InboundJournal).where(InboundJournal.id > floors[bench.size])
            )


# --- one backend: every size built, then measured side by side -----------------------------


@asynccontextmanager
async def fresh_database(backend: str, admin_url: str) -> AsyncIterator[str]:
    """A new SQLite file or a throw-away PostgreSQL database, migrated to head."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    name = f"lantern_bench_{secrets.token_hex(4)}"
    await execute_autocommit(admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await execute_autocommit(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def network(url: str, backend: str, size: int, case_rounds: int) -> AsyncIterator[Bench]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            bot_number="+12025550100",
            data_dir=Path(tmp),
            database_url=url,
            send_rate_per_second=100.0,  # no Signal here: measure our own work
            send_burst=10**6,
        )
        app = LanternApp(settings)
        messenger = NullMessenger()
        dispatcher = app.make_dispatcher(messenger)
        dispatcher.limiter = RateLimiter(per_minute=1e9, burst=10**9)
        bench = Bench(app, dispatcher, messenger, backend=backend, size=size)

        def executed(*_args: object) -> None:
            bench.executed += 1

        event.listen(app.db.engine.sync_engine, "before_cursor_execute", executed)
        try:
            await bootstrap(bench)
            console.print(f"  {bench.label}: bootstrapped through messages")
            await populate(bench, size - BOOTSTRAPPED, bench.label)
            await seed_casework(bench, case_rounds)
            await settle(app.db.url)
            yield bench
        finally:
            app.vault.seal()
            await app.db.dispose()


@dataclass
class Result:
    """What a measured network leaves for the report: plain data, to cross processes."""

    backend: str
    size: int
    cells: int
    cases: int
    open_cases: int
    commands: dict[str, list[float]]
    lookups: dict[str, list[float]]
    journal: dict[str, list[float]]
    casework: dict[str, list[float]]
    statements: dict[str, list[int]]

    @classmethod
    def of(cls, bench: Bench) -> Result:
        return cls(
            backend=bench.backend,
            size=bench.size,
            cells=len(bench.cells),
            cases=len(bench.cases),
            open_cases=sum(c.status not in ("closed", "kept") for c in bench.cases),
            commands=bench.commands,
            lookups=bench.lookups,
            journal=bench.journal,
            casework=bench.casework,
            statements=bench.statements,
        )


# With both backends, each runs in a process of its own: the networks are built at the
# same time (the bulk of the run), then measured one backend at a time, so nothing else
# of the benchmark competes with a measurement.  (barrier: all built; lock: measuring.)
TURN: tuple[Any, Any] | None = None


def take_turns(built: Any, measuring: Any) -> None:
    """Process-pool initializer."""
    global TURN
    TURN = (built, measuring)
    configure_logging("ERROR")


def measure_backend(
    backend: str, sizes: list[int], rounds: int, case_rounds: int, admin_url: str
) -> list[Result]:
    return asyncio.run(run_backend(backend, sizes, rounds, case_rounds, admin_url))


async def run_backend(
    backend: str, sizes: list[int], rounds: int, case_rounds: int, admin_url: str
) -> list[Result]:
    turn, holding = TURN, False
    try:
        async with AsyncExitStack() as stack:
            benches = []
            for size in sizes:
                url = await stack.enter_async_context(fresh_database(backend, admin_url))
                made = network(url, backend, size, case_rounds)
                benches.append(await stack.enter_async_context(made))
            if turn is not None:
                await asyncio.to_thread(turn[0].wait)
                await asyncio.to_thread(turn[1].acquire)
                holding = True
            started = time.perf_counter()
            console.print(f"  {backend}: timing commands, {rounds} rounds, sizes side by side …")
            await time_commands(benches, rounds)
            await time_lookups(benches, rounds)
            await time_journal(benches, rounds)
            console.print(f"  {backend}: timing casework, {case_rounds} rounds …")
            await time_casework(benches, case_rounds)
            console.print(f"  {backend}: measured in {time.perf_counter() - started:.0f} s")
            results = [Result.of(bench) for bench in benches]
        return results
    except BaseException:
        if turn is not None and not holding:
            turn[0].abort()  # the other process must not wait for this one forever
        raise
    finally:
        if turn is not None and holding:
            turn[1].release()


# --- report --------------------------------------------------------------------------------


def median(samples: list[float]) -> float:
    return statistics.median(samples)


HEADERS = {
    "answer": "answer",
    "menu": "name→next",
    "confirm": "confirm",
    "cases": "cases",
    "case": "case <id>",
    "vote": "vote yes",
    "reply": "reply",
    "tick": "tick, idle",
    "tick_vote": "tick, 1 vote",
}


def latency_table(
    results: list[Result],
    title: str,
    names: tuple[str, ...],
    samples: Callable[[Result], dict[str, list[float]]],
    caption: str | None = None,
    digits: int = 2,
) -> Table:
    """p50 / p95 per size, and the p50 ratio largest/smallest size per backend."""
    table = Table(title=title, caption=caption)
    table.add_column("backend")
    table.add_column("members", justify="right")
    for name in names:
        table.add_column(HEADERS.get(name, name), justify="right")
    for backend in dict.fromkeys(r.backend for r in results):
        rows = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        for r in rows:
            pairs = (p50_p95(samples(r)[c]) for c in names)
            cells = [f"{p:.{digits}f} / {q:.{digits}f}" for p, q in pairs]
            table.add_row(backend, f"{r.size:,}", *cells)
        if len(rows) > 1:
            small, large = samples(rows[0]), samples(rows[-1])
            ratios = [f"×{median(large[c]) / median(small[c]):.2f}" for c in names]
            table.add_row("", f"p50 {rows[-1].size:,}/{rows[0].size:,}", *ratios, style="dim")
    return table


def report(results: list[Result], rounds: int, case_rounds: int) -> None:
    console.print(
        latency_table(
            results,
            f"on_text latency, ms: p50 / p95 ({rounds} samples; join = invite + 4 steps)",
            COMMANDS,
            lambda r: r.commands,
        )
    )
    shape = Table(title="network shape (casework)")
    for name in ("backend", "members", "cells", "places", "cases", "open", "cell size"):
        shape.add_column(name, justify="left" if name == "backend" else "right")
    for r in results:
        shape.add_row(
            r.backend,
            f"{r.size:,}",
            f"{r.cells:,}",
            f"{r.cells * SITES:,}",
            f"{r.cases:,}",
            f"{r.open_cases:,}",
            f"≈{(r.size - BOOTSTRAPPED) // r.cells}",
        )
    console.print(shape)
    console.print(
        latency_table(
            results,
            f"intake latency, ms: p50 / p95 ({case_rounds} samples)",
            INTAKE,
            lambda r: r.casework,
            caption="answer = a free-text answer mid-dialog; name→next = the answer that "
            "brings the group menu (≤9 open groups) or the summary; "
            "confirm = case created, routed by place",
            digits=1,
        )
    )
    console.print(
        latency_table(
            results,
            f"casework latency, ms: p50 / p95 ({case_rounds} samples)",
            CASEWORK,
            lambda r: r.casework,
            caption=f"cases = organizer's queue of {QUEUE}; vote by a member of the cell; "
            "reply by the subject; tick = Timers.tick(), nothing due / one vote due",
            digits=1,
        )
    )
    statements = Table(title="SQL statements per sample (mean), casework")
    statements.add_column("backend")
    statements.add_column("members", justify="right")
    for name in (*INTAKE, *CASEWORK):
        statements.add_column(HEADERS[name], justify="right")
    for r in results:
        means = [statistics.mean(r.statements[c]) for c in (*INTAKE, *CASEWORK)]
        statements.add_row(r.backend, f"{r.size:,}", *(f"{m:.1f}" for m in means))
    console.print(statements)

    crypto = Table(
        title="member lookup, median ms (distinct members, cold session)",
        caption="by_account = row SELECT + data-key SELECT + unwrap/decrypt; "
        "envelope = by_account − row SELECT",
    )
    for name in ("backend", "members"):
        crypto.add_column(name)
    for name in (
        "by_account",
        "row SELECT only",
        "unwrap+decrypt",
        "data-key SELECT",
        "envelope / `me` p50",
    ):
        crypto.add_column(name, justify="right")
    for r in results:
        full, row, unwrap = (median(r.lookups[k]) for k in ("by_account", "row", "crypto"))
        crypto.add_row(
            r.backend,
            f"{r.size:,}",
            f"{full:.3f}",
            f"{row:.3f}",
            f"{unwrap:.3f}",
            f"{full - row - unwrap:.3f}",
            f"{(full - row) / median(r.commands['me']):.1%}",
        )
    console.print(crypto)

    journal = Table(
        title="journal one inbound message (own transaction), median ms",
        caption="sealed bot: no keys, HPKE only; unsealed: + keyed duplicate check; "
        "plain: same row, payload not sealed",
    )
    for name in ("backend", "members"):
        journal.add_column(name)
    for name in ("HPKE, sealed bot", "HPKE+dedupe, unsealed", "plain (no HPKE)", "HPKE only"):
        journal.add_column(name, justify="right")
    for r in results:
        kinds = ("sealed", "unsealed_bot", "plain", "hpke")
        journal.add_row(r.backend, f"{r.size:,}", *(f"{median(r.journal[k]):.3f}" for k in kinds))
    console.print(journal)


def sizes(raw: str) -> list[int]:
    values = [int(part) for part in raw.replace(" ", ",").split(",") if part]
    if not values or min(values) < MIN_SIZE:
        raise argparse.ArgumentTypeError(
            f"sizes must be at least {MIN_SIZE} (a cell needs a few members to vote)"
        )
    return values


def main() -> None:
    configure_logging("ERROR")
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=sizes, default=[1000, 10000], help="e.g. 1000,10000")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="both", help="default both"
    )
    parser.add_argument("--rounds", type=int, default=200, help="timed samples per measurement")
    parser.add_argument(
        "--case-rounds",
        type=int,
        default=30,
        help="timed samples per casework measurement (each is heavier)",
    )
    parser.add_argument(
        "--postgres",
        default=PG_ADMIN,
        help="admin URL; a temporary lantern_bench_* database is created next to it",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    backends = [b for b in ("sqlite", "postgresql") if args.backend in (b, "both")]
    job = (args.sizes, args.rounds, args.case_rounds, args.postgres)
    results: list[Result] = []
    if len(backends) == 1:
        results = asyncio.run(run_backend(backends[0], *job))
    else:
        context = multiprocessing.get_context("spawn")
        turn = (context.Barrier(len(backends), timeout=3600), context.Lock())
        with ProcessPoolExecutor(
            len(backends), mp_context=context, initializer=take_turns, initargs=turn
        ) as pool:
            futures = [pool.submit(measure_backend, backend, *job) for backend in backends]
            failed = [e for f in futures if (e := f.exception()) is not None]
            if failed:  # the cause, not the other process's broken barrier
                raise next((e for e in failed if not isinstance(e, BrokenBarrierError)), failed[0])
            results = [r for f in futures for r in f.result()]
    report(results, args.rounds, args.case_rounds)
    console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
