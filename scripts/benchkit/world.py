"""A network of N members in a fresh database, built in process before the bot starts.

The first people come in the way a real network's do, through messages to the real
dispatcher: ``lantern init``, three coordinators enroll (their share words are kept, to
unseal the bot later through the sandbox), ``cell new``, an organizer invited and joined.
Everyone else is written in batches (:mod:`benchkit.bulk`): a bigger network has more
cells of about 50 people, not bigger cells, and one in ten people is in a second cell.
Every cell has one past call-out with its members asked and a third of them saying yes,
so the answer tables grow with the network too.  The organizer's own cell holds the
``fanout`` people the benchmark's call-out goes to.
"""

from __future__ import annotations

import re
import string
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from benchkit.bulk import NewMember, check_readable, insert_members
from bot.app import LanternApp
from bot.config import Settings
from bot.identities import Identity
from bot.ratelimit import RateLimiter
from bot.setup import init_network
from storage.callout_audience import Audience
from storage.db import execute_autocommit, is_sqlite
from storage.models import CalloutMember, utcnow
from storage.repositories import Repositories

BOT_NUMBER = "+12025550100"
CELL_SIZE = 50
MIN_CELLS = 20
BATCH = 2000
BOOTSTRAPPED = 4  # three coordinators and the organizer
SHARE = re.compile(r"^([a-z]+(?: [a-z]+){19,32})$", re.MULTILINE)
REF = re.compile(r"\(ref ([0-9A-Z]{5})\)")
CODE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$")
WHAT = "The landlord kept the deposits of everyone who moved out this year"
TARGET = "Greenview Property Management"


class Capture:
    """The messenger while building: keeps what each account was sent, sends nothing."""

    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = defaultdict(list)

    async def send_text(self, account: str, text: str) -> int | None:
        self.sent[account].append(text)
        return None

    async def set_timer(self, account: str, seconds: int) -> None:
        return None

    async def identity(self, account: str) -> Identity | None:
        return None

    async def trust(self, account: str, safety_number: str) -> None:
        return None

    async def submit_challenge(self, token: str, captcha: str) -> None:
        return None


@dataclass
class World:
    backend: str
    size: int
    url: str
    coordinators: list[str] = field(default_factory=list)
    shares: dict[str, str] = field(default_factory=dict)
    organizer: str = ""
    cell_ref: str = ""
    fanout: list[str] = field(default_factory=list)  # the organizer's cell: the call-out's
    talkers: list[str] = field(default_factory=list)  # people of other cells, for `help`
    intake: list[str] = field(default_factory=list)  # drafts waiting for the target answer
    cells: int = 0
    callouts: int = 0
    build_seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.backend} {self.size:,}"


def letters(n: int) -> str:
    """Handles of letters only (digits would read as a phone number)."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out += string.ascii_lowercase[r]
        if n == 0:
            return out


class Builder:
    def __init__(self, world: World, data_dir: Path, say: Callable[[str], None]) -> None:
        self.world = world
        settings = Settings(bot_number=BOT_NUMBER, data_dir=data_dir, database_url=world.url)
        self.app = LanternApp(settings)
        self.capture = Capture()
        self.dispatcher = self.app.make_dispatcher(self.capture)
        self.dispatcher.limiter = RateLimiter(per_minute=1e9, burst=10**9)
        self.ts = 1_700_000_000_000
        self.log = say

    async def send(self, account: str, text: str) -> list[str]:
        before = len(self.capture.sent[account])
        self.ts += 1
        await self.dispatcher.on_text(account, self.ts, text)
        return self.capture.sent[account][before:]

    async def bootstrap(self) -> None:
        world, app = self.world, self.app
        codes = await init_network(app.db, name="Bench network", coordinators=3, threshold=2)
        await app.vault.start()
        world.coordinators = [str(uuid.uuid4()) for _ in codes]
        for i, (who, code) in enumerate(zip(world.coordinators, codes, strict=True), 1):
            for text in (f"enroll {code}", "en", f"coord{letters(i)}", "yes"):
                await self.send(who, text)
        for who in world.coordinators:
            found = next((m for t in self.capture.sent[who] if (m := SHARE.search(t))), None)
            if found is None:
                raise RuntimeError("enrollment dealt no share")
            world.shares[who] = found.group(1)
        first = world.coordinators[0]
        ref = REF.search("\n".join(await self.send(first, "cell new Riverside tenants")))
        if ref is None:
            raise RuntimeError("`cell new` gave no ref")
        world.cell_ref = ref.group(1)
        invite = await self.send(first, f"invite {world.cell_ref} organizer")
        code = next((t.strip() for t in invite if CODE.match(t.strip())), None)
        if code is None:
            raise RuntimeError("`invite` gave no code")
        world.organizer = str(uuid.uuid4())
        for text in (f"join {code}", "en", "orga", "yes"):
            await self.send(world.organizer, text)
        if app.vault.sealed:
            raise RuntimeError("the network did not come up")

    async def populate(self, fanout: int, talkers: int, drafts: int) -> None:
        world, keys = self.world, self.app.vault.keys
        assert keys is not None
        others = world.size - BOOTSTRAPPED - fanout
        if others < talkers + drafts:
            raise RuntimeError("network too small for the samples asked for")
        count = max(MIN_CELLS, others // CELL_SIZE)
        async with self.app.db.transaction() as session:
            repos = Repositories(session, keys)
            home = await repos.cells.by_ref(world.cell_ref)
            assert home is not None
            await repos.routing.open(home.id, "Riverside")
            cells = [(await repos.cells.create(f"Cell {i + 1}")).id for i in range(count)]
        world.cells = count + 1
        people = [
            NewMember(str(uuid.uuid4()), "r" + letters(i), "es" if i % 4 == 0 else "en", home.id)
            for i in range(fanout)
        ]
        for i in range(others):
            people.append(
                NewMember(
                    account=str(uuid.uuid4()),
                    handle="m" + letters(i),
                    language="es" if i % 4 == 0 else "en",
                    home=cells[i % count],
                    role_in_home="organizer" if i < count else "member",
                    also=cells[(i + 7) % count] if i % 10 == 0 else None,
                )
            )
        world.fanout = [p.account for p in people[:fanout]]
        pool = people[fanout + count :]  # plain members, spread over the cells
        step = len(pool) // (talkers + drafts)
        picked = [pool[k * step].account for k in range(talkers + drafts)]
        world.talkers, world.intake = picked[:talkers], picked[talkers:]
        by_cell: dict[str, list[str]] = defaultdict(list)
        started = time.perf_counter()
        for start in range(0, len(people), BATCH):
            batch = people[start : start + BATCH]
            async with self.app.db.transaction() as session:
                ids = await insert_members(
                    session, keys, batch, self.app.settings.disappearing_timer
                )
            for person, member_id in zip(batch, ids, strict=True):
                by_cell[person.home].append(member_id)
            done = start + len(batch)
            if done == len(people) or done % (BATCH * 10) == 0:
                self.log(
                    f"{done:,}/{len(people):,} members ({time.perf_counter() - started:.0f} s)"
                )
        async with self.app.db.transaction() as session:
            await check_readable(session, keys, people[:: max(1, len(people) // 25)])
        await self.history(by_cell)
        await self.seed_drafts()

    async def history(self, by_cell: dict[str, list[str]]) -> None:
        """One past action per cell, everyone asked, a third said yes."""
        keys = self.app.vault.keys
        assert keys is not None
        now = utcnow()
        when = now - timedelta(days=10)
        items = list(by_cell.items())
        for start in range(0, len(items), 100):
            async with self.app.db.transaction() as session:
                repos = Repositories(session, keys)
                for cell_id, members in items[start : start + 100]:
                    view = await repos.callouts.create(
                        cell_id,
                        what="Deliver the demand letter",
                        where="The office lobby",
                        wanted=10,
                        slots=[],
                        audience=Audience(cells=(cell_id,)),
                        starts_at=when,
                        reveal_at=when - timedelta(hours=2),
                        send_at=when - timedelta(days=3),
                        status="done",
                        created_by="bench",
                        now=when - timedelta(days=3),
                    )
                    await repos.callouts.add_members(view.id, members)
                    # long over: debriefed then, so the bot's first ticks have no backlog
                    await repos.callouts.set_columns(view.id, now=when, debriefed=True)
                    yes = [repos.callouts._member_index(m) for m in members[::3]]
                    await session.execute(
                        update(CalloutMember)
                        .where(CalloutMember.callout_id == view.id)
                        .where(CalloutMember.member_bidx.in_(yes))
                        .values(answer="yes", answered_at=when - timedelta(days=1))
                    )
        self.world.callouts = len(items)

    async def seed_drafts(self) -> None:
        """One intake walked through messages to the ``target`` question; the other
        drafts are copies of it under their own accounts and data keys."""
        world, keys = self.world, self.app.vault.keys
        assert keys is not None
        first, *rest = world.intake
        await self.send(first, "intake")
        for _ in range(4):
            async with self.app.db.transaction() as session:
                draft = await Repositories(session, keys).dialogs.get(first, now=utcnow())
            if draft is None:
                raise RuntimeError("intake did not start")
            if draft.state == "target":
                break
            await self.send(first, {"language": "en", "what": WHAT}.get(draft.state, "1"))
        else:
            raise RuntimeError("intake never reached the target question")
        life, remind = self.dispatcher.router.lifetime(draft.flow, self.app.settings)
        async with self.app.db.transaction() as session:
            dialogs = Repositories(session, keys).dialogs
            for account in rest:
                expires = utcnow() + life
                await dialogs.save(
                    account,
                    flow=draft.flow,
                    state=draft.state,
                    data=dict(draft.data),
                    expires_at=expires,
                    remind_at=None if remind is None else expires - remind,
                )

    async def close(self) -> None:
        self.app.vault.seal()
        await self.app.db.dispose()


async def settle(url: str) -> None:
    """Fresh statistics and a folded WAL, as a database in service has."""
    if is_sqlite(url):
        await execute_autocommit(url, "ANALYZE")
        await execute_autocommit(url, "PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await execute_autocommit(url, "VACUUM ANALYZE")


async def build(
    world: World,
    data_dir: Path,
    *,
    fanout: int,
    talkers: int,
    drafts: int,
    say: Callable[[str], None],
) -> World:
    started = time.perf_counter()
    builder = Builder(world, data_dir, lambda text: say(f"{world.label}: {text}"))
    try:
        await builder.bootstrap()
        await builder.populate(fanout, talkers, drafts)
    finally:
        await builder.close()
    await settle(world.url)
    world.build_seconds = time.perf_counter() - started
    say(f"{world.label}: built in {world.build_seconds:.0f} s ({world.cells:,} cells)")
    return world
