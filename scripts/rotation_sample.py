"""The rotation order for a sample history, as the bot itself produces it.

    .venv/bin/python scripts/rotation_sample.py

A small network of 400 (scripts/bench.py's builder, SQLite); in one cell eight members sign up
as drivers by message and get a history of past actions; one pauses, one is free only on
the other kind of day.  The organizer sends a call-out with one driver place; each
person offered the place answers PASS, so the bot walks its whole order.  Printed: the
order of the offers with each person's record, the people never offered and why, and
the moment the slot opened to everyone.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import PG_ADMIN, Bench, fresh_database, network
from sqlalchemy import select

from bot.logging import configure_logging
from bot.roles import available
from storage.callouts import Audience
from storage.models import SlotOffer, utcnow
from storage.repositories import Repositories

REF = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{6})\b")
# handle -> days since their past actions ("yes" answers); None: paused / away
HISTORY: dict[str, list[int]] = {
    "ana": [3],
    "ben": [30],
    "cruz": [],
    "dee": [10, 12],
    "eli": [10],
    "fay": [60, 61, 62],
    "gus": [],  # paused
    "hal": [],  # free only on the other kind of day
}


async def member_ids(bench: Bench, accounts: dict[str, str]) -> dict[str, str]:
    async with bench.app.db.transaction() as session:
        repos = Repositories(session, bench.keys)
        found = {}
        for handle, account in accounts.items():
            member = await repos.members.by_account(account)
            assert member is not None
            found[handle] = member.id
        return found


async def past(bench: Bench, cell_id: str, ids: list[str], days: int) -> None:
    starts = utcnow() - timedelta(days=days)
    async with bench.app.db.transaction() as session:
        repos = Repositories(session, bench.keys)
        view = await repos.callouts.create(
            cell_id,
            what="earlier action",
            where="-",
            wanted=1,
            slots=[],
            audience=Audience(cells=(cell_id,)),
            starts_at=starts,
            reveal_at=starts,
            send_at=starts - timedelta(days=1),
            status="done",
            created_by="sample",
            now=starts,
        )
        await repos.callouts.add_members(view.id, ids)
        for who in ids:
            await repos.callouts.set_answer(view.id, who, answer="yes", slot=None, now=starts)


@dataclass(frozen=True)
class Offer:
    handle: str
    state: str  # offered | taken | passed | expired


async def offers_made(bench: Bench, callout_id: str, ids: dict[str, str]) -> list[Offer]:
    """The slot's offers in the order the bot made them (keyed hash -> sample handle)."""
    async with bench.app.db.transaction() as session:
        repos = Repositories(session, bench.keys)
        by_digest = {repos.rotation.digest(m): h for h, m in ids.items()}
        rows = await session.execute(
            select(SlotOffer.member_bidx, SlotOffer.state)
            .where(SlotOffer.callout_id == callout_id)
            .order_by(SlotOffer.offered_at)
        )
        return [Offer(by_digest.get(b, "?"), str(st)) for b, st in rows.all()]


async def report(bench: Bench, ref: str, ids: dict[str, str], offers: list[Offer]) -> None:
    """Each person's record and fate, read back from what the bot stored."""
    settings = bench.app.settings
    zone = ZoneInfo(settings.timezone)
    async with bench.app.db.transaction() as session:
        repos = Repositories(session, bench.keys)
        found = await repos.callouts.locate(ref)
        assert found is not None
        view = await repos.callouts.by_id(found[0])
        assert view is not None
        now = utcnow()
        since = now - timedelta(days=settings.concentration_days)
        served = await repos.rotation.served(list(ids.values()), since=since, besides=view.id)
        local = view.starts_at.astimezone(zone)
        why_not: dict[str, str] = {}
        for handle, mid in ids.items():
            paused = await repos.roles.paused_until(mid)
            if paused is not None and paused > now:
                why_not[handle] = f"skipped: paused until {paused.astimezone(zone):%d %b}"
            elif not available(await repos.roles.availability(mid), local):
                why_not[handle] = f"skipped: not free on {local:%A}s"

    def record(handle: str) -> str:
        s = served[ids[handle]]
        if s.last is None:
            return "never served".ljust(32)
        ago = (now - s.last).days
        last = f"last served {s.last.astimezone(zone):%d %b} ({ago} days ago)"
        return f"{last:<32} {s.count} in the last {settings.concentration_days} days"

    print(f"\nCall-out {ref} ({local:%a %d %b %H:%M}), one driver place;")
    print("offers in the order the bot made them (each answered PASS):")
    for n, offer in enumerate(offers, start=1):
        print(f"  {n}. @{offer.handle:<5} {record(offer.handle)}  -> {offer.state}")
    offered = {o.handle for o in offers}
    for handle in ids:
        if handle not in offered:
            print(f"  -  @{handle:<5} {why_not.get(handle, 'NOT OFFERED (unexpected)')}")
    opened = "opened to everyone asked" if 0 in view.widened else "NOT opened (unexpected)"
    print(f"  then: nobody left in the rotation, the place {opened}")


async def main() -> None:
    configure_logging("ERROR")
    async with (
        fresh_database("sqlite", PG_ADMIN) as url,
        network(url, "sqlite", 400, case_rounds=0) as bench,
    ):
        cell = 1
        organizer, members = bench.cell_members[cell][0], bench.cell_members[cell][1:]
        accounts = dict(zip(HISTORY, members, strict=False))
        for account in accounts.values():
            await bench.send(account, "signup driver")
        ids = await member_ids(bench, accounts)
        for handle, days in HISTORY.items():
            for ago in days:
                await past(bench, bench.cells[cell], [ids[handle]], ago)
        await bench.send(accounts["gus"], "pause 2 weeks")
        starts = utcnow() + timedelta(days=3)
        weekend = starts.astimezone(ZoneInfo(bench.app.settings.timezone)).weekday() >= 5
        await bench.send(accounts["hal"], f"skills {'weekdays' if weekend else 'weekends'}")
        line = "callout Deliver the letter | in 3 days | 12 Oak St | 6 | 1 driver | - | - | - | now"
        await bench.send(organizer, line)
        found = REF.search("\n".join(await bench.ask(organizer, "yes")))
        assert found is not None
        ref = found.group(1)
        await bench.dispatcher.timers.tick()
        async with bench.app.db.transaction() as session:
            located = await Repositories(session, bench.keys).callouts.locate(ref)
        assert located is not None
        for _ in HISTORY:
            offers = await offers_made(bench, located[0], ids)
            if not offers or offers[-1].state != "offered":
                break
            await bench.send(accounts[offers[-1].handle], f"pass {ref}")
        await report(bench, ref, ids, await offers_made(bench, located[0], ids))


if __name__ == "__main__":
    asyncio.run(main())
