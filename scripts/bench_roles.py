"""Roles, rotation and coverage at two network sizes: does the work grow with the network?

    .venv/bin/python scripts/bench_roles.py --sizes 1000,10000 --backend sqlite

Builds each network with scripts/bench.py (cells of about 50), gives about a third of
all members a role (a seventh of them drivers) and a history of past call-outs with
answers, then times, as members of one cell and its organizer: ``roles``, ``signup``,
``drop``, ``skills``, ``pause`` / ``resume``, ``coverage``, a call-out with a driver
slot (its fan-out batch makes the rotation offers), ``pass`` and an idle tick.  Prints
p50/p95 in ms and the ratio of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import PG_ADMIN, Bench, fresh_database, network
from sqlalchemy import insert, select

from bot.logging import configure_logging
from bot.roles import load_catalogue
from storage.models import Member, MemberRole, utcnow

REF = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{6})\b")
LINE = "callout Deliver the letter | in 3 days | 12 Oak St | 10 | 2 drivers | - | - | - | now"
STEPS = ("roles", "signup", "drop", "skills", "pause+resume", "coverage")


async def timed(samples: list[float], work: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await work()
    samples.append((time.perf_counter() - started) * 1000)


async def give_roles(bench: Bench) -> None:
    """A third of the network holds a role; drivers are a seventh of all members."""
    keys = [r.key for r in load_catalogue().active()]
    rnd, now = random.Random(6), utcnow()  # noqa: S311  (a benchmark's sample, not a secret)
    async with bench.app.db.transaction() as session:
        ids = list((await session.scalars(select(Member.id))).all())
        rows = []
        for i, member_id in enumerate(ids):
            if i % 7 == 0:  # 7 divides no cell count: every cell has drivers
                rows.append({"member_id": member_id, "role_key": "driver", "since": now})
            elif i % 3 == 0:
                key = rnd.choice([k for k in keys if k != "driver"])
                rows.append({"member_id": member_id, "role_key": key, "since": now})
        await session.execute(insert(MemberRole), rows)


async def past_callouts(bench: Bench, organizer: str, members: list[str], count: int) -> None:
    """A history: call-outs sent and answered yes by a few, so rotation has to sort."""
    timers = bench.dispatcher.timers
    for k in range(count):
        await bench.send(organizer, LINE)
        texts = await bench.ask(organizer, "yes")
        found = REF.search("\n".join(texts))
        if found is None:
            raise RuntimeError("no call-out id in the confirmation")
        await timers.tick()
        for who in members[k % 5 :: 5]:
            await bench.send(who, f"yes {found.group(1)}")


async def measure(bench: Bench, rounds: int) -> dict[str, list[float]]:
    timers = bench.dispatcher.timers
    out: dict[str, list[float]] = {k: [] for k in STEPS}
    out.update({"callout+confirm": [], "fan-out batch": [], "pass": [], "tick idle": []})
    cell = 1
    organizer, members = bench.cell_members[cell][0], bench.cell_members[cell][1:]
    await past_callouts(bench, organizer, members, 5)
    for i in range(rounds):
        who = members[i % len(members)]
        await timed(out["roles"], lambda: bench.send(who, "roles"))  # noqa: B023
        await timed(out["signup"], lambda: bench.send(who, "signup medic"))  # noqa: B023
        await timed(out["drop"], lambda: bench.send(who, "drop medic"))  # noqa: B023
        await timed(out["skills"], lambda: bench.send(who, "skills car, es, evenings"))  # noqa: B023

        async def pause_resume(who: str = who) -> None:
            await bench.send(who, "pause 1 week")
            await bench.send(who, "resume")

        await timed(out["pause+resume"], pause_resume)
        await timed(out["coverage"], lambda: bench.send(organizer, "coverage"))
        await timed(out["tick idle"], timers.tick)
    for _ in range(max(3, rounds // 10)):
        ref: list[str] = []

        async def call(ref: list[str] = ref) -> None:
            await bench.send(organizer, LINE)
            found = REF.search("\n".join(await bench.ask(organizer, "yes")))
            if found is None:
                raise RuntimeError("no call-out id in the confirmation")
            ref.append(found.group(1))

        await timed(out["callout+confirm"], call)
        await timed(out["fan-out batch"], timers.tick)
        for who in members[:3]:
            await timed(out["pass"], lambda: bench.send(who, f"pass {ref[0]}"))  # noqa: B023
    bench.dispatcher.clock = lambda: utcnow() + timedelta(hours=7)  # offers run out
    await timed(out["tick idle"], timers.tick)
    return out


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(backend: str, sizes: list[int], rounds: int, admin: str) -> None:
    results: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        async with (
            fresh_database(backend, admin) as url,
            network(url, backend, size, case_rounds=0) as bench,
        ):
            await give_roles(bench)
            results[size] = await measure(bench, rounds)
    small, large = sizes[0], sizes[-1]
    print(f"\n{backend}: p50 / p95 ms   ({rounds} rounds; ratio = p50 at {large} ÷ {small})")
    for step in results[small]:
        a, b = results[small][step], results[large][step]
        ratio = statistics.median(b) / statistics.median(a)
        print(
            f"  {step:<16} {small:>6}: {p(a, 0.5):7.1f} / {p(a, 0.95):7.1f}"
            f"   {large:>6}: {p(b, 0.5):7.1f} / {p(b, 0.95):7.1f}   ×{ratio:.2f}"
        )


def main() -> None:
    configure_logging("ERROR")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--postgres", default=PG_ADMIN)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    for backend in ("sqlite", "postgresql"):
        if args.backend in (backend, "both"):
            asyncio.run(run(backend, sizes, args.rounds, args.postgres))


if __name__ == "__main__":
    main()
