"""Per-command latency through the real dispatcher, by network size and backend.

Not a test: run it and read the numbers::

    .venv/bin/python scripts/bench.py [--sizes 1000,10000] [--backend sqlite|postgresql|both]

For every backend and size, on a fresh SQLite file or a throw-away PostgreSQL database
(``lantern_bench_*``, created next to ``--postgres`` and dropped afterwards):

1. the network is bootstrapped the way a real one is — ``init_network``, then through
   ``Dispatcher.on_text``: three coordinators enroll, shares are dealt, ``cell new``,
   ``invite <ref> organizer``, the organizer joins — and the other members are created
   directly with the repositories (per-record data keys, 20 cells, memberships);
2. ``me``, ``cells``, ``help``, a stranger's message and a full join (the organizer's
   ``invite`` + the 4 join steps) are timed through ``Dispatcher.on_text`` with a null
   messenger, so the numbers are Lantern's own cost (rate limit, sealed journal, one
   transaction, lookups, envelope crypto, reply screening) without Signal;
3. the cost of envelope encryption per lookup is isolated (``MemberRepository.by_account``
   vs the bare indexed SELECT vs just the data-key unwrap + decrypt);
4. the cost of sealing the inbound journal (HPKE) is isolated.

The dispatcher gets a rate limiter with a very high limit: the benchmark sends hundreds
of messages a second from a few accounts, which the real 30/minute limit would drop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import re
import secrets
import statistics
import string
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, func, select
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
from security import BacklogSealer, Keyring
from storage.common import ad
from storage.db import execute_autocommit, is_sqlite
from storage.journal import JournalRepository
from storage.members import PURPOSE as MEMBER_PURPOSE
from storage.migrate import upgrade
from storage.models import DataKey, InboundJournal, Member, utcnow
from storage.repositories import Repositories

PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BOOTSTRAPPED = 4  # three coordinators and the first organizer, created through messages
CELLS = 20
BATCH = 1000
WARMUP = 20
REF = re.compile(r"\(ref ([0-9A-Z]{5})\)")
CODE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$")
COMMANDS = ("me", "cells", "help", "stranger", "join")

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=120)


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


async def populate(bench: Bench, count: int, label: str) -> None:
    """The other members, directly through the repositories, in batches."""
    app, keys = bench.app, bench.keys
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        cells = [(await repos.cells.create(f"Cell {i + 1}")).id for i in range(CELLS)]
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        async with app.db.transaction() as session:
            repos = Repositories(session, keys)
            for i in range(start, min(count, start + BATCH)):
                account = str(uuid.uuid4())
                home = cells[i % CELLS]
                member = await repos.members.create(
                    account=account,
                    handle=bench.new_handle("m"),
                    language="es" if i % 4 == 0 else "en",
                    role="member",
                    timer_seconds=app.settings.disappearing_timer,
                    home_cell_id=home,
                )
                role = "organizer" if i < CELLS else "member"
                await repos.cells.add_member(member.id, home, role)
                if i % 10 == 0:  # some people are in two cells
                    await repos.cells.add_member(member.id, cells[(i + 7) % CELLS], "member")
                bench.members.append(account)
        done = min(count, start + BATCH)
        if done == count or done % (BATCH * 2) == 0:
            console.print(
                f"  {label}: {done + BOOTSTRAPPED:>6}/{count + BOOTSTRAPPED} members "
                f"({time.perf_counter() - started:5.1f} s)"
            )
    await settle(app.db.url)


async def settle(url: str) -> None:
    """Statistics and a clean heap / WAL, as a database in service would have (autovacuum,
    checkpoints), so background work after the bulk load does not land in the timings."""
    if is_sqlite(url):
        await execute_autocommit(url, "ANALYZE")
        await execute_autocommit(url, "PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await execute_autocommit(url, "VACUUM ANALYZE")


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
async def network(url: str, backend: str, size: int) -> AsyncIterator[Bench]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(bot_number="+12025550100", data_dir=Path(tmp), database_url=url)
        app = LanternApp(settings)
        messenger = NullMessenger()
        dispatcher = app.make_dispatcher(messenger)
        dispatcher.limiter = RateLimiter(per_minute=1e9, burst=10**9)
        bench = Bench(app, dispatcher, messenger, backend=backend, size=size)
        try:
            await bootstrap(bench)
            console.print(f"  {bench.label}: bootstrapped through messages")
            await populate(bench, size - BOOTSTRAPPED, bench.label)
            yield bench
        finally:
            app.vault.seal()
            await app.db.dispose()


async def run_backend(backend: str, sizes: list[int], rounds: int, admin_url: str) -> list[Bench]:
    async with AsyncExitStack() as stack:
        benches = []
        for size in sizes:
            url = await stack.enter_async_context(fresh_database(backend, admin_url))
            benches.append(await stack.enter_async_context(network(url, backend, size)))
        started = time.perf_counter()
        console.print(f"  {backend}: timing commands, {rounds} rounds, sizes side by side …")
        await time_commands(benches, rounds)
        await time_lookups(benches, rounds)
        await time_journal(benches, rounds)
        console.print(f"  {backend}: measured in {time.perf_counter() - started:.0f} s")
        return benches


# --- report --------------------------------------------------------------------------------


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def report(results: list[Bench], rounds: int) -> None:
    latency = Table(
        title=f"on_text latency, ms: p50 / p95 ({rounds} samples; join = invite + 4 steps)"
    )
    latency.add_column("backend")
    latency.add_column("members", justify="right")
    for name in COMMANDS:
        latency.add_column(name, justify="right")
    for backend in dict.fromkeys(r.backend for r in results):
        rows = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        for r in rows:
            cells = [f"{p:.2f} / {q:.2f}" for p, q in (p50_p95(r.commands[c]) for c in COMMANDS)]
            latency.add_row(backend, f"{r.size:,}", *cells)
        if len(rows) > 1:
            small, large = rows[0], rows[-1]
            ratios = [
                f"×{median(large.commands[c]) / median(small.commands[c]):.2f}" for c in COMMANDS
            ]
            latency.add_row("", f"p50 {large.size:,}/{small.size:,}", *ratios, style="dim")
    console.print(latency)

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
    if not values or min(values) <= BOOTSTRAPPED + CELLS:
        raise argparse.ArgumentTypeError(f"sizes must be > {BOOTSTRAPPED + CELLS}")
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
        "--postgres",
        default=PG_ADMIN,
        help="admin URL; a temporary lantern_bench_* database is created next to it",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    results: list[Bench] = []
    for backend in ("sqlite", "postgresql"):
        if args.backend in (backend, "both"):
            results += asyncio.run(run_backend(backend, args.sizes, args.rounds, args.postgres))
    report(results, args.rounds)
    console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
