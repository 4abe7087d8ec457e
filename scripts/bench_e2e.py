"""``make bench``: Lantern end to end, at 1,000, 10,000 and 100,000 members, on SQLite
and PostgreSQL, against a bare signalbot echo bot on the same sandbox.

Not a test: run it and read the numbers (a table here, JSON in ``--json``)::

    .venv/bin/python scripts/bench_e2e.py [--sizes 1000,10000,100000] [--backend both]

For each backend and size, in a fresh database (SQLite file, or a throw-away PostgreSQL
database next to ``--postgres``, dropped afterwards):

1. a network is built in process (:mod:`benchkit.world`);
2. ``lantern run`` starts as a child process against the local Signal sandbox, and two
   coordinators unseal it by sending their words, as after any restart;
3. the organizer sends a call-out to their cell of ``--fanout`` people; the time until
   every invitation is queued (the fan-out done) and delivered is taken against the
   ideal ``N ÷ R``, where R is the bot's own send rate (``--rate``);
4. ``help``, ``yes <id>``, an intake answer and ``status <id>`` are sent one at a time,
   round robin, ``--samples`` each after a warm-up, each by a different person except
   ``status`` (the organizer): p50 / p99 from push to first reply, at the sandbox;
5. ``--burst`` people send ``help`` at the same moment: commands per second;
6. the bot's resident and peak memory are read from /proc;
7. the bot stops and the crypto cost per command is measured in process
   (:mod:`benchkit.cryptocost`).

The echo bot gets the same sequential samples and burst once per run.  The per-sender
limit (30 a minute) is lifted for the bot, as the organizer sends ``status`` dozens of
times a minute here; everything else is the production default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.botprocess: the bot as an operator runs it

from benchkit import cryptocost  # noqa: E402
from benchkit.report import report  # noqa: E402
from benchkit.rig import EchoBot, FanWatch, Watch, memory_of, summary  # noqa: E402
from benchkit.world import TARGET, World, build  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from storage.db import execute_autocommit, make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.botprocess import BotProcess  # noqa: E402

PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CALLOUT_REF = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{6})\b")
COMMANDS = ("help", "yes", "intake", "status")


def say(line: str) -> None:
    print(f"  {line}", flush=True)


@asynccontextmanager
async def fresh_database(backend: str, admin_url: str, tmp: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp}/bench-{secrets.token_hex(3)}.db"
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


async def callout_sent(url: str, timeout: float = 300.0) -> float:  # noqa: ASYNC109
    """Wait until the newest call-out has asked its whole audience; when (perf_counter)."""
    engine = make_engine(url)
    query = text("SELECT status FROM callouts ORDER BY changed_at DESC LIMIT 1")
    try:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            async with engine.connect() as conn:
                if await conn.scalar(query) == "sent":
                    return time.perf_counter()
            await asyncio.sleep(0.02)
    finally:
        await engine.dispose()
    raise RuntimeError("the call-out never finished going out")


async def fan_out(watch: Watch, world: World, url: str, rate: float) -> dict[str, Any]:
    state = watch.state
    organizer = world.organizer
    line = "callout Picket at the office | in 3 days | 12 Oak St | 40"
    cursor = state.last_seq
    await state.inject_text(organizer, line)
    await state.wait_for_deliveries(organizer, 2, since=cursor, timeout=30)
    cursor = state.last_seq
    watch.fan = FanWatch(ref="", people=set(world.fanout))
    started = time.perf_counter()
    await state.inject_text(organizer, "yes")
    [confirmed] = await state.wait_for_deliveries(organizer, 1, since=cursor, timeout=30)
    found = CALLOUT_REF.search(confirmed.text or "")
    if found is None:
        raise RuntimeError(f"no call-out id in {confirmed.text!r}")
    watch.fan.ref = found.group(1)
    queued = await callout_sent(url) - started
    deadline = time.perf_counter() + 600
    while len(watch.fan.got) < len(world.fanout):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(watch.fan.got)} of {len(world.fanout)} invited")
        await asyncio.sleep(0.05)
    delivered = watch.fan.last - started
    return {
        "ref": watch.fan.ref,
        "people": len(world.fanout),
        "rate": rate,
        "queued_s": queued,
        "delivered_s": delivered,
        "ideal_s": len(world.fanout) / rate,
        "twice": watch.fan.twice,
    }


def plan(world: World, samples: int, warmup: int, ref: str) -> list[list[tuple[str, str]]]:
    """Round robin: one of each command per round, a fresh person per sample."""
    rounds = []
    for i in range(warmup + samples):
        rounds.append(
            [
                (world.talkers[i % len(world.talkers)], "help"),
                (world.fanout[i], f"yes {ref}"),
                (world.intake[i], TARGET),
                (world.organizer, f"status {ref}"),
            ]
        )
    return rounds


async def timed_commands(
    watch: Watch, rounds: list[list[tuple[str, str]]], warmup: int
) -> dict[str, list[float]]:
    got: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for i, messages in enumerate(rounds):
        for name, (persona, body) in zip(COMMANDS, messages, strict=True):
            seconds = await watch.roundtrip(persona, body)
            await watch.quiet(0.05)
            if i >= warmup:
                got[name].append(seconds)
    return got


async def measure(world: World, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    server = SandboxServer()
    await server.start()
    state = server.state
    for account in {*world.coordinators, world.organizer, *world.fanout}:
        state.create_persona("p", uuid=account)
    for account in {*world.talkers, *world.intake}:
        state.create_persona("p", uuid=account)
    watch = Watch(state)
    settings = Settings(
        bot_number=state.bot_number,
        signal_service=server.url,
        data_dir=tmp,
        database_url=world.url,
        send_rate_per_second=args.rate,
        rate_per_minute=1e6,
        rate_burst=10**6,
        log_level="WARNING",
    )
    bot = BotProcess(settings, state, tmp / f"lantern-{world.backend}-{world.size}.log")
    result: dict[str, Any] = {"backend": world.backend, "size": world.size}
    try:
        started = time.perf_counter()
        await bot.start(wait_seconds=120)
        coordinators = [state.persona(c) for c in world.coordinators]
        await bot.unseal(coordinators, world.shares, 2)
        result["start_unseal_s"] = time.perf_counter() - started
        say(f"{world.label}: bot up and unsealed in {result['start_unseal_s']:.1f} s")
        result["fanout"] = await fan_out(watch, world, world.url, args.rate)
        fan = result["fanout"]
        say(
            f"{world.label}: call-out to {fan['people']} queued in {fan['queued_s']:.1f} s,"
            f" delivered in {fan['delivered_s']:.1f} s (ideal {fan['ideal_s']:.1f} s)"
        )
        rounds = plan(world, args.samples, args.warmup, fan["ref"])
        timings = await timed_commands(watch, rounds, args.warmup)
        result["latency"] = {name: summary(v) for name, v in timings.items()}
        pushes = [(p, "help") for p in world.fanout[-args.burst :]]
        wall, latencies = await watch.burst(pushes)
        result["burst"] = {"n": len(pushes), "per_s": len(pushes) / wall, **summary(latencies)}
        await watch.quiet(0.5)
        pid = bot._proc.pid if bot._proc is not None else 0
        rss, peak = memory_of(pid)
        result["memory_mib"] = {"rss": rss, "peak": peak}
        say(f"{world.label}: {result['burst']['per_s']:.0f} commands/s, RSS {rss:.0f} MiB")
    finally:
        await bot.stop()
        await server.stop()
    used = args.warmup + args.samples
    extra = range(used, used + args.crypto_samples)
    crypto = {
        "help": [(world.talkers[i % len(world.talkers)], "help") for i in extra],
        "yes": [(world.fanout[i], f"yes {fan['ref']}") for i in extra],
        "intake": [(world.intake[i], TARGET) for i in extra],
        "status": [(world.organizer, f"status {fan['ref']}") for _ in extra],
    }
    result["crypto"] = await cryptocost.measure(world, tmp, crypto)
    return result


async def echo_baseline(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    server = SandboxServer()
    await server.start()
    people = [server.state.create_persona("p").uuid for _ in range(max(args.burst, 50))]
    watch = Watch(server.state)
    echo = EchoBot(server.state, server.url, tmp / "echo.log")
    try:
        await echo.start()
        samples = []
        for i in range(args.warmup + args.samples * len(COMMANDS)):
            seconds = await watch.roundtrip(people[i % len(people)], "help")
            await watch.quiet(0.05)
            if i >= args.warmup:
                samples.append(seconds)
        wall, latencies = await watch.burst([(p, "help") for p in people[: args.burst]])
        assert echo.proc is not None
        rss, peak = memory_of(echo.proc.pid)
        return {
            "latency": summary(samples),
            "burst": {"n": args.burst, "per_s": args.burst / wall, **summary(latencies)},
            "memory_mib": {"rss": rss, "peak": peak},
        }
    finally:
        await echo.stop()
        await server.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {"settings": vars(args) | {"json": str(args.json)}, "runs": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        say("echo bot baseline …")
        out["echo"] = await echo_baseline(args, tmp)
        for backend in backends:
            for size in args.sizes:
                async with fresh_database(backend, args.postgres, tmp) as url:
                    world = World(backend, size, url)
                    drafts = args.warmup + args.samples + args.crypto_samples
                    await build(world, tmp, fanout=args.fanout, talkers=100, drafts=drafts, say=say)
                    measured = await measure(world, args, tmp)
                    measured["build_s"] = world.build_seconds
                    measured["cells"] = world.cells
                    out["runs"].append(measured)
    out["total_s"] = time.perf_counter() - started
    return out


def sizes(raw: str) -> list[int]:
    values = [int(part) for part in raw.split(",") if part.strip()]
    if not values or min(values) < 1000:
        raise argparse.ArgumentTypeError("sizes are comma-separated, each at least 1000")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=sizes, default=[1000, 10000, 100000])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default=PG_ADMIN, help="admin URL (creates/drops DBs)")
    parser.add_argument("--samples", type=int, default=60, help="timed messages per command")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--crypto-samples", type=int, default=30)
    parser.add_argument("--fanout", type=int, default=500, help="people the call-out asks")
    parser.add_argument("--rate", type=float, default=50.0, help="the bot's send rate (msg/s)")
    parser.add_argument("--burst", type=int, default=200, help="people answering at once")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    configure_logging("ERROR")
    results = asyncio.run(run(args))
    args.json.write_text(json.dumps(results, indent=2))
    report(results)
    print(f"\nJSON: {args.json}   total {results['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
