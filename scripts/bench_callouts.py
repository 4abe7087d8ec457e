"""Call-out work at two network sizes: does it grow with the network?

    .venv/bin/python scripts/bench_callouts.py --sizes 1000,10000 --backend sqlite

Builds each network with scripts/bench.py (members straight through the repositories,
cells of about 50), then, as the organizer of one such cell: the one-line ``callout`` and
its confirmation, one sweep that asks the cell (the fan-out batch), ``yes <id>`` from
members, ``status <id>``, ``callouts``, and an idle tick.  Delivery goes to a messenger
that records nothing, with no rate limit: this measures Lantern's own work.  Prints
p50/p95 in ms and the ratio of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import PG_ADMIN, Bench, fresh_database, network

from bot.logging import configure_logging

REF = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{6})\b")
LINE = "callout Deliver the letter | in 3 days | 12 Oak St | 10 | 1 driver | - | - | - | now"


async def timed(samples: list[float], work: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await work()
    samples.append((time.perf_counter() - started) * 1000)


async def measure(bench: Bench, rounds: int) -> dict[str, list[float]]:
    timers = bench.dispatcher.timers
    out: dict[str, list[float]] = {
        k: [] for k in ("callout line", "confirm", "fan-out batch", "yes", "status", "callouts")
    }
    out["tick idle"] = []
    cell = 1  # one populated cell: its first member organizes it
    organizer, members = bench.cell_members[cell][0], bench.cell_members[cell][1:]
    refs: list[str] = []
    for _ in range(max(3, rounds // 10)):
        await timed(out["callout line"], lambda: bench.send(organizer, LINE))
        bench.messenger.watch, bench.messenger.seen = organizer, []
        await timed(out["confirm"], lambda: bench.send(organizer, "yes"))
        found = REF.search("\n".join(bench.messenger.seen))
        bench.messenger.watch = None
        if found is None:
            raise RuntimeError("no call-out id in the confirmation")
        refs.append(found.group(1))
        await timed(out["fan-out batch"], timers.tick)
    for i in range(rounds):
        who = members[i % len(members)]
        ref = refs[i % len(refs)]
        await timed(out["yes"], lambda: bench.send(who, f"yes {ref}"))  # noqa: B023
        await timed(out["status"], lambda: bench.send(organizer, f"status {ref}"))  # noqa: B023
        await timed(out["callouts"], lambda: bench.send(who, "callouts"))  # noqa: B023
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
            results[size] = await measure(bench, rounds)
    small, large = sizes[0], sizes[-1]
    print(f"\n{backend}: p50 / p95 ms   ({rounds} rounds; ratio = p50 at {large} ÷ {small})")
    for step in results[small]:
        a, b = results[small][step], results[large][step]
        ratio = statistics.median(b) / statistics.median(a)
        print(
            f"  {step:<14} {small:>6}: {p(a, 0.5):7.1f} / {p(a, 0.95):7.1f}"
            f"   {large:>6}: {p(b, 0.5):7.1f} / {p(b, 0.95):7.1f}   ×{ratio:.2f}"
        )


def main() -> None:
    configure_logging("ERROR")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--postgres", default=PG_ADMIN)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    for backend in ("sqlite", "postgresql"):
        if args.backend in (backend, "both"):
            asyncio.run(run(backend, sizes, args.rounds, args.postgres))


if __name__ == "__main__":
    main()
