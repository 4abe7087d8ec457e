"""Key rotation (threat test 5): requested keylessly, done by the unsealed bot, resumable.

Every test here runs on SQLite and PostgreSQL (through ``database_url``).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

import bot.cli as cli
import bot.keyjobs as keyjobs
from bot.app import LanternApp
from bot.keyjobs import (
    KeyMaintenance,
    VaultSealedError,
    request_rotation,
    rotate_now,
    rotation_status,
)
from storage.keystore import rotation_progress
from storage.models import Cell, CellKey, DataKey, Member, utcnow
from storage.repositories import Repositories
from tests.conftest import Chat
from tests.helpers import join
from tests.network import Network, account

MEMBERS = 6
runner = CliRunner()


class Interrupted(Exception):
    """Stands in for a crash or a stop in the middle of a rotation."""


@dataclass(frozen=True)
class Snapshot:
    versions: dict[str, list[int]]  # cell id -> its KEK versions
    dek_versions: dict[str, int]  # data key id -> KEK version it is wrapped with
    wrapped: dict[str, bytes]  # data key id -> wrapped bytes
    members: list[str]
    cells: list[str]


async def snapshot(app: LanternApp) -> Snapshot:
    async with app.db.transaction() as s:
        versions: dict[str, list[int]] = {}
        for cell_id, version in await s.execute(select(CellKey.cell_id, CellKey.version)):
            versions.setdefault(cell_id, []).append(version)
        deks = (await s.execute(select(DataKey.id, DataKey.kek_version, DataKey.wrapped))).all()
        members = list((await s.scalars(select(Member.id))).all())
        cells = list((await s.scalars(select(Cell.id))).all())
    return Snapshot(
        {c: sorted(v) for c, v in versions.items()},
        {d: v for d, v, _ in deks},
        {d: w for d, _, w in deks},
        sorted(members),
        sorted(cells),
    )


async def populated(app: LanternApp, chat: Chat, net: Network) -> Snapshot:
    for i in range(MEMBERS):
        await join(chat, net, account(), f"member{i}")
    return await snapshot(app)


async def reopen(app: LanternApp, net: Network) -> None:
    """Seal and unseal again: a fresh keyring with no cached cell keys (like a restart)."""
    app.vault.seal()
    for who in list(net.shares)[: net.threshold]:
        await app.vault.submit_share(net.shares[who])
    assert not app.vault.sealed


async def read_everything(app: LanternApp, snap: Snapshot) -> tuple[int, int]:
    """Decrypt every member profile and cell name; (members read, cells read)."""
    assert app.vault.keys is not None
    async with app.db.transaction() as s:
        repos = Repositories(s, app.vault.keys)
        handles = [await repos.members.by_id(m) for m in snap.members]
        cells = [await repos.cells.by_id(c) for c in snap.cells]
    assert all(h is not None and h.handle for h in handles)
    assert all(c is not None and c.name for c in cells)
    names = {c.name for c in cells if c is not None}
    assert "Riverside tenants" in names
    return len(handles), len(cells)


async def requested_at(app: LanternApp) -> object:
    async with app.db.transaction() as s:
        return (await rotation_status(s)).requested_at


# --- rotate_now -----------------------------------------------------------------------


async def test_rotation_rewraps_every_key_and_retires_old_versions(
    app: LanternApp, chat: Chat, net: Network
) -> None:
    before = await populated(app, chat, net)
    assert len(before.members) >= MEMBERS + 4  # coordinators, organizer, members
    assert all(len(v) == 1 for v in before.versions.values())
    await request_rotation(app.db)

    moved = await rotate_now(app.db, app.vault, batch=3)

    after = await snapshot(app)
    assert moved == len(before.dek_versions)
    assert after.dek_versions.keys() == before.dek_versions.keys()
    assert after.versions == {c: [v[-1] + 1] for c, v in before.versions.items()}
    newest = {c: v[-1] for c, v in after.versions.items()}
    async with app.db.transaction() as s:
        owners = dict((await s.execute(select(DataKey.id, DataKey.cell_id))).all())
        assert (await rotation_progress(s)).old_keys == 0
    assert all(after.dek_versions[d] == newest[owners[d]] for d in after.dek_versions)
    assert all(after.wrapped[d] != before.wrapped[d] for d in before.wrapped)
    assert await requested_at(app) is None
    await reopen(app, net)  # nothing cached: the database alone must be enough
    assert await read_everything(app, after) == (len(before.members), len(before.cells))


async def test_rotation_resumes_after_interruption_with_one_new_version_per_cell(
    app: LanternApp, chat: Chat, net: Network
) -> None:
    before = await populated(app, chat, net)
    stamp, new = await request_rotation(app.db)
    assert new
    seen: list[tuple[int, int]] = []

    def crash_after_first_batch(done: int, total: int) -> None:
        seen.append((done, total))
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_now(app.db, app.vault, batch=1, on_progress=crash_after_first_batch)

    assert seen == [(1, len(before.dek_versions))]
    async with app.db.transaction() as s:
        status = await rotation_status(s)
    assert status.requested_at == stamp  # still pending
    assert status.cells_pending == 0  # every cell got its new version
    assert status.old_keys == len(before.dek_versions) - 1  # the first batch is committed
    middle = await snapshot(app)
    assert middle.versions == {c: [v[0], v[0] + 1] for c, v in before.versions.items()}

    await reopen(app, net)  # the process "restarts" with an empty keyring
    moved = await rotate_now(app.db, app.vault, batch=1)

    after = await snapshot(app)
    assert moved == len(before.dek_versions) - 1
    assert after.versions == {c: [v[0] + 1] for c, v in before.versions.items()}
    assert await requested_at(app) is None
    await reopen(app, net)
    await read_everything(app, after)


@pytest.mark.parametrize("cli_clock_minutes", [-60, 60], ids=["cli-behind", "cli-ahead"])
async def test_rotation_rotates_every_cell_once_despite_cli_clock_skew(
    app: LanternApp,
    chat: Chat,
    net: Network,
    monkeypatch: pytest.MonkeyPatch,
    cli_clock_minutes: int,
) -> None:
    before = await snapshot(app)
    skewed = utcnow() + timedelta(minutes=cli_clock_minutes)
    monkeypatch.setattr(keyjobs, "utcnow", lambda: skewed)
    await request_rotation(app.db)  # as the CLI would, on a machine with another clock
    monkeypatch.setattr(keyjobs, "utcnow", utcnow)

    def crash(done: int, total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_now(app.db, app.vault, batch=1, on_progress=crash)
    await reopen(app, net)
    await rotate_now(app.db, app.vault, batch=1)

    after = await snapshot(app)
    assert after.versions == {c: [v[0] + 1] for c, v in before.versions.items()}
    assert await requested_at(app) is None
    await read_everything(app, after)


async def test_rotate_now_refuses_while_sealed_and_makes_a_request_when_none(
    app: LanternApp, chat: Chat, net: Network
) -> None:
    before = await snapshot(app)
    app.vault.seal()
    with pytest.raises(VaultSealedError):
        await rotate_now(app.db, app.vault)
    assert await snapshot(app) == before
    await reopen(app, net)
    assert await requested_at(app) is None
    assert await rotate_now(app.db, app.vault) == len(before.dek_versions)
    assert (await snapshot(app)).versions == {c: [v[0] + 1] for c, v in before.versions.items()}
    assert await requested_at(app) is None


# --- the background loop ----------------------------------------------------------------


async def wait_done(app: LanternApp, seconds: float = 20.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        async with app.db.transaction() as s:
            if (await rotation_status(s)).done:
                return True
        await asyncio.sleep(0.05)
    return False


async def test_key_maintenance_does_nothing_while_sealed_then_rotates_after_unseal(
    app: LanternApp, chat: Chat, net: Network
) -> None:
    before = await populated(app, chat, net)
    app.vault.seal()
    stamp, _ = await request_rotation(app.db)
    jobs = KeyMaintenance(interval=0.01, batch=2)
    jobs.start(app.db, app.vault)
    try:
        await asyncio.sleep(0.3)  # dozens of ticks
        assert jobs.running
        assert await snapshot(app) == before
        assert await requested_at(app) == stamp
        for who in list(net.shares)[: net.threshold]:
            await app.vault.submit_share(net.shares[who])
        assert await wait_done(app)
    finally:
        await jobs.stop()
    assert not jobs.running
    after = await snapshot(app)
    assert after.versions == {c: [v[0] + 1] for c, v in before.versions.items()}
    await read_everything(app, after)


async def test_key_maintenance_idles_without_a_request(
    app: LanternApp, chat: Chat, net: Network
) -> None:
    before = await snapshot(app)
    jobs = KeyMaintenance(interval=0.01)
    assert await jobs.tick(app.db, app.vault) == 0
    jobs.start(app.db, app.vault)
    await asyncio.sleep(0.1)
    await jobs.stop()
    assert await snapshot(app) == before
    await request_rotation(app.db)
    assert await jobs.tick(app.db, app.vault) == len(before.dek_versions)


# --- the CLI (it never holds keys) ------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("LANTERN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setattr(cli, "KEYS_POLL_SECONDS", 0.05)
    return monkeypatch


async def invoke(*args: str) -> Result:
    """The CLI runs its own event loop, so it runs in a thread here."""
    return await asyncio.to_thread(runner.invoke, cli.app, list(args))


@pytest.mark.parametrize("args", [["keys"], ["keys", "rotate"], ["keys", "status"]])
def test_cli_keys_commands_have_help(args: list[str]) -> None:
    result = runner.invoke(cli.app, [*args, "--help"])
    assert result.exit_code == 0
    assert "unsealed bot" in result.output or "--config" in result.output
    if args[-1] == "rotate":
        assert "--no-wait" in result.output
        assert "--timeout" in result.output


def test_cli_keys_exit_3_when_not_migrated(cli_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli_env.setenv("LANTERN_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    for args in (["keys", "rotate", "--no-wait"], ["keys", "status"]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == cli.EXIT_NOT_MIGRATED, result.output
        assert "lantern migrate" in result.output


def test_cli_keys_exit_2_without_network(cli_env: pytest.MonkeyPatch, database_url: str) -> None:
    cli_env.setenv("LANTERN_DATABASE_URL", database_url)
    for args in (["keys", "rotate", "--no-wait"], ["keys", "status"]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == cli.EXIT_CONFIG, result.output
        assert "lantern init" in result.output


async def test_cli_keys_rotate_no_wait_records_one_request(
    cli_env: pytest.MonkeyPatch, database_url: str, app: LanternApp, chat: Chat, net: Network
) -> None:
    cli_env.setenv("LANTERN_DATABASE_URL", database_url)
    before = await snapshot(app)
    result = await invoke("keys", "rotate", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "requested" in result.output
    assert "unsealed bot does the work" in result.output
    stamp = await requested_at(app)
    assert stamp is not None
    assert await snapshot(app) == before  # the CLI changed no key
    again = await invoke("keys", "rotate", "--no-wait")
    assert again.exit_code == 0, again.output
    assert "already pending" in again.output
    assert await requested_at(app) == stamp


async def test_cli_keys_status_counts_cells_and_old_keys(
    cli_env: pytest.MonkeyPatch, database_url: str, app: LanternApp, chat: Chat, net: Network
) -> None:
    cli_env.setenv("LANTERN_DATABASE_URL", database_url)
    before = await snapshot(app)
    result = await invoke("keys", "status")
    assert result.exit_code == 0, result.output
    assert f"cells with keys: {len(before.versions)}" in result.output
    assert "keys on old versions: 0" in result.output
    assert "none pending" in result.output

    await request_rotation(app.db)

    def stop(done: int, total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_now(app.db, app.vault, batch=1, on_progress=stop)
    result = await invoke("keys", "status")
    assert result.exit_code == 0, result.output
    assert f"keys on old versions: {len(before.dek_versions) - 1}" in result.output
    assert f"{len(before.dek_versions) - 1} data key(s) to re-wrap" in result.output


async def test_cli_keys_rotate_waits_for_the_bot_and_exits_0(
    cli_env: pytest.MonkeyPatch, database_url: str, app: LanternApp, chat: Chat, net: Network
) -> None:
    cli_env.setenv("LANTERN_DATABASE_URL", database_url)
    watcher = asyncio.create_task(invoke("keys", "rotate", "--timeout", "60"))
    for _ in range(400):
        if await requested_at(app) is not None:
            break
        await asyncio.sleep(0.05)
    assert not watcher.done()  # waiting for the bot
    await rotate_now(app.db, app.vault, batch=1)
    result = await watcher
    assert result.exit_code == 0, result.output
    assert "Key rotation done" in result.output


async def test_cli_keys_rotate_times_out_with_exit_1_when_the_bot_is_sealed(
    cli_env: pytest.MonkeyPatch, database_url: str, app: LanternApp, chat: Chat, net: Network
) -> None:
    cli_env.setenv("LANTERN_DATABASE_URL", database_url)
    cli_env.setattr(cli, "KEYS_STALL_SECONDS", 0.2)
    app.vault.seal()
    result = await invoke("keys", "rotate", "--timeout", "1")
    assert result.exit_code == cli.EXIT_RUNTIME, result.output
    assert "Timed out" in result.output
    assert "progress will continue after unseal" in result.output
    assert "No progress yet" in result.output
    assert await requested_at(app) is not None
