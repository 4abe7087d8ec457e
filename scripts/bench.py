"""Per-command latency through the real dispatcher, by network size and backend.

Not a test: run it and read the numbers.  ``python scripts/bench.py [--sizes 1000 10000]``.
Members are inserted directly (bulk), then commands are timed through
``Dispatcher.on_text`` with a no-op messenger, so the numbers are Lantern's own cost
(journal + transaction + lookups + crypto), without Signal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.app import LanternApp
from bot.config import Settings
from bot.logging import configure_logging
from security import Keyring
from storage.db import execute_autocommit
from storage.migrate import upgrade
from storage.models import Member


class NullMessenger:
    async def send_text(self, account: str, text: str) -> None:
        return None

    async def set_timer(self, account: str, seconds: int) -> None:
        return None


async def populate(app: LanternApp, n: int) -> list[str]:
    accounts = [str(uuid.uuid4()) for _ in range(n)]
    keys = app.keys
    async with app.db.transaction() as session:
        for start in range(0, n, 2000):
            rows = []
            for account in accounts[start : start + 2000]:
                member_id = secrets.token_hex(16)
                handle = "m" + secrets.token_hex(5)
                rows.append(
                    Member(
                        id=member_id,
                        account_bidx=keys.index.digest("account", account),
                        handle_bidx=keys.index.digest("handle", handle),
                        account_ct=keys.fields.encrypt_text(
                            account, ad=f"members|account|{member_id}".encode()
                        ),
                        handle_ct=keys.fields.encrypt_text(
                            handle, ad=f"members|handle|{member_id}".encode()
                        ),
                        language="en",
                        role="member",
                        joined_at=datetime.now(UTC),
                        timer_seconds=604800,
                    )
                )
            session.add_all(rows)
    return accounts


async def measure(url: str, n: int, rounds: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(bot_number="+12025550100", data_dir=Path(tmp), database_url=url)
        app = LanternApp(settings, keys=Keyring.generate())
        accounts = await populate(app, n)
        dispatcher = app.make_dispatcher(NullMessenger())
        results: dict[str, dict[str, float]] = {}
        ts = int(time.time() * 1000)
        for command in ("me", "help", "join-step", "stranger"):
            samples = []
            for i in range(rounds):
                ts += 1
                account = accounts[i % len(accounts)]
                body = command
                if command == "stranger":
                    account, body = str(uuid.uuid4()), "hello"
                elif command == "join-step":
                    account, body = str(uuid.uuid4()), "join AAAAA-BBBBB-CCCCC"
                started = time.perf_counter()
                await dispatcher.on_text(account, ts, body)
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            results[command] = {
                "p50_ms": round(statistics.median(samples), 2),
                "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 2),
            }
        await app.db.dispose()
        return results


def with_fresh_pg(admin_url: str, run: Callable[[str], object]) -> object:
    """A throw-away database, so the benchmark never touches anyone's data."""
    name = f"lantern_bench_{secrets.token_hex(4)}"
    asyncio.run(execute_autocommit(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        return run(url)
    finally:
        asyncio.run(execute_autocommit(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def main() -> None:
    configure_logging("WARNING")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="admin URL; a temporary database is created next to it ('' to skip)",
    )
    args = parser.parse_args()
    report = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = f"sqlite+aiosqlite:///{tmp}/bench.db"
            upgrade(sqlite)
            report[f"sqlite/{size}"] = asyncio.run(measure(sqlite, size, args.rounds))
        if args.postgres:
            report[f"postgresql/{size}"] = with_fresh_pg(
                args.postgres, lambda url, n=size: asyncio.run(measure(url, n, args.rounds))
            )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
