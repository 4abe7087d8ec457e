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
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import PG_ADMIN, Bench, fresh_database, network
from sqlalchemy import select

from bot.logging import configure_logging
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


async def offered_order(bench: Bench, callout_ref: str, ids: dict[str, str]) -> list[str]:
    async with bench.app.db.transaction() as session:
        repos = Repositories(session, bench.keys)
        found = await repos.callouts.locate(callout_ref)
        assert found is not None
        by_digest = {repos.rotation.digest(m): h for h, m in ids.items()}
        rows = await session.execute(
            select(SlotOffer.member_bidx)
            .where(SlotOffer.callout_id == found[0])
            .order_by(SlotOffer.offered_at, SlotOffer.state)
        )
        return [by_digest.get(b, "?") for (b,) in rows.all()]


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
        for _ in HISTORY:
            order = await offered_order(bench, ref, ids)
            await bench.send(accounts[order[-1]], f"pass {ref}")
        order = list(dict.fromkeys(await offered_order(bench, ref, ids)))
        print(f"\nCall-out {ref}, one driver place; offers in the order the bot made them:")
        for n, handle in enumerate(order, start=1):
            days = HISTORY[handle]
            last = f"last action {min(days)} days ago" if days else "never served"
            recent = sum(1 for d in days if d <= bench.app.settings.concentration_days)
            print(f"  {n}. @{handle:<5} {last:<26} {recent} in the last 90 days")
        print("  then: nobody left in the rotation, the place opened to everyone asked")
        print("Never offered: @gus (paused), @hal (not free on that day)")


if __name__ == "__main__":
    asyncio.run(main())
