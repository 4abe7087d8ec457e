"""Shared fixtures.

Every test that takes ``database_url`` runs twice: on SQLite and on PostgreSQL.  Each
backend's schema comes from ``alembic upgrade head`` (never ``create_all``).  Without a
reachable PostgreSQL the PostgreSQL half is skipped locally but *fails* under CI, so a
green CI always means both backends ran.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import LanternApp
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.identities import Identity, TrustRejected
from bot.messenger import (
    ChallengeRejected,
    IdentityChanged,
    RateLimited,
    RecipientFailed,
    Unavailable,
)
from storage.db import execute_autocommit, make_engine
from storage.migrate import upgrade
from tests.botprocess import kill_all

PG_ADMIN_URL = os.environ.get(
    "LANTERN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TABLES = (
    "covenants",
    "slot_offers",
    "member_skills",
    "member_roles",
    "network_roles",
    "prompt_asks",
    "prompts",
    "debriefs",
    "sent_refs",
    "callout_members",
    "callouts",
    "outbox",
    "delivery_state",
    "apscheduler_jobs",
    "case_votes",
    "case_events",
    "cases",
    "outcomes",
    "cell_sites",
    "memberships",
    "bans",
    "invites",
    "dialogs",
    "members",
    "inbound_journal",
    "data_keys",
    "cell_keys",
    "cells",
    "enrollments",
    "network",
)


async def _pg_admin(statement: str) -> None:
    await execute_autocommit(PG_ADMIN_URL, statement)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test session, migrated once, dropped at the end."""
    name = f"lantern_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated by ``alembic upgrade head``; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "lantern.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        target = tmp_path / "lantern.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    url = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    yield url


async def _truncate(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        bot_number="+12025550100",
        signal_service="127.0.0.1:9",
        data_dir=tmp_path / "data",
        database_url=database_url,
        rate_burst=100_000,  # tests send fast; tests/test_ratelimit.py checks the real limit
        **FAST_SENDING,
    )


@dataclass
class FakeMessenger:
    """Records what the bot would send, with Signal's failures on demand.

    ``fail_for``: transport errors for these accounts; ``changed``: untrusted keys;
    ``rate_limited``: the next N sends answer 429 without a challenge;
    ``captcha``: a pending challenge token — sends answer 429 with it (only to
    ``captcha_for`` accounts when that is set, as Signal does for new recipients) until
    :meth:`submit_challenge` gets it; ``unavailable``: the next N sends answer 503;
    ``recipient_failures``: account -> signal-cli reason.
    """

    sent: list[tuple[str, str]] = field(default_factory=list)
    timers: list[tuple[str, int]] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    safety: dict[str, str] = field(default_factory=dict)
    trusted: set[str] = field(default_factory=set)
    rate_limited: int = 0
    captcha: str | None = None
    captcha_for: set[str] | None = None
    unavailable: int = 0
    recipient_failures: dict[str, str] = field(default_factory=dict)
    challenges: list[tuple[str, str]] = field(default_factory=list)
    stamps: list[tuple[str, int]] = field(default_factory=list)
    attempts: int = 0
    _clock: int = 1_800_000_000_000

    async def send_text(self, account: str, text: str) -> int | None:
        self.attempts += 1
        if account in self.fail_for:
            raise ConnectionError("simulated send failure")
        if self.captcha is not None and (self.captcha_for is None or account in self.captcha_for):
            raise RateLimited([self.captcha])
        if self.rate_limited > 0:
            self.rate_limited -= 1
            raise RateLimited([""])
        if self.unavailable > 0:
            self.unavailable -= 1
            raise Unavailable(503)
        if account in self.recipient_failures:
            raise RecipientFailed(self.recipient_failures[account], 400)
        if account in self.changed:
            raise IdentityChanged()
        self.sent.append((account, text))
        self._clock += 1
        self.stamps.append((account, self._clock))
        return self._clock

    async def submit_challenge(self, token: str, captcha: str) -> None:
        self.challenges.append((token, captcha))
        if self.captcha is None or token != self.captcha:
            raise ChallengeRejected()
        self.captcha = None

    async def identity(self, account: str) -> Identity | None:
        number = self.safety.setdefault(account, "1" * 60)
        return Identity(
            fingerprint=number, safety_number=number, trusted=account not in self.changed
        )

    async def trust(self, account: str, safety_number: str) -> None:
        if self.safety.get(account) != safety_number:
            raise TrustRejected(400)
        self.changed.discard(account)

    def change_identity(self, account: str) -> None:
        """What a new phone or a SIM swap looks like from the bot's side."""
        self.safety[account] = secrets.choice("23456789") * 60
        self.changed.add(account)

    async def set_timer(self, account: str, seconds: int) -> None:
        self.timers.append((account, seconds))


class Chat:
    """Drives the real dispatcher and router as one or more people would."""

    def __init__(self, dispatcher: Dispatcher, messenger: FakeMessenger) -> None:
        self.dispatcher = dispatcher
        self.messenger = messenger
        self._ts = 1_700_000_000_000

    def next_ts(self) -> int:
        self._ts += 1
        return self._ts

    async def send(self, account: str, text: str) -> list[str]:
        before = len(self.messenger.sent)
        await self.dispatcher.on_text(account, self.next_ts(), text)
        return [t for a, t in self.messenger.sent[before:] if a == account]

    async def say(self, account: str, text: str) -> str:
        """Send and expect exactly one reply."""
        replies = await self.send(account, text)
        assert len(replies) == 1, replies
        return replies[0]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[LanternApp]:
    lantern = LanternApp(settings)
    yield lantern
    lantern.vault.seal()
    await lantern.db.dispose()


@pytest.fixture
def messenger() -> FakeMessenger:
    return FakeMessenger()


@pytest.fixture
def bare_chat(app: LanternApp, messenger: FakeMessenger) -> Chat:
    """A dispatcher on a database where ``lantern init`` has not run yet."""
    return Chat(app.make_dispatcher(messenger), messenger)


@pytest.fixture
async def net(app: LanternApp, bare_chat: Chat) -> Network:
    """A network bootstrapped exactly as a real one is: init, enroll, shares, a cell,
    its first organizer.  Nothing here skips sealing or the need-to-know policy: the
    first test per backend does it through the dispatcher; later ones get a copy of its
    rows and unseal with two shares (tests/snapshot.py)."""
    return await bootstrapped(app, bare_chat)


@pytest.fixture
def chat(net: Network, bare_chat: Chat) -> Chat:
    return bare_chat


def new_account() -> str:
    import uuid

    return str(uuid.uuid4())


from tests.live import FAST_SENDING, booted_live, fresh_live  # noqa: E402, F401  (sandbox fixtures)
from tests.network import Network, bootstrap  # noqa: E402, F401  (needs Chat defined above)
from tests.snapshot import bootstrapped  # noqa: E402


@pytest.fixture(autouse=True)
def _no_orphan_bots() -> Iterator[None]:
    """A test that fails before stopping its ``lantern run`` child must not leave it
    running (it would hold a websocket and CPU for the rest of the suite)."""
    yield
    kill_all()
