"""``lantern``: the operator's command line.

Exit codes: 0 success; 1 runtime failure; 2 usage or configuration error;
3 database not migrated (run ``lantern migrate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.cli_roles import register as register_roles
from bot.config import ConfigError, Settings, load_settings
from bot.logging import configure_logging, guard_stderr
from bot.roles import file_catalogue

if TYPE_CHECKING:
    from storage.db import Database

app = typer.Typer(
    help="Lantern: a Signal bot for solidarity networks. Configuration comes from LANTERN_* "
    "environment variables and an optional TOML file (--config).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

EXIT_RUNTIME, EXIT_CONFIG, EXIT_NOT_MIGRATED = 1, 2, 3

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file with settings (env vars override it).",
        exists=True,
        dir_okay=False,
        envvar="LANTERN_CONFIG",
    ),
]


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        err.print("[bold red]Configuration error[/]")
        for line in str(exc).splitlines():
            err.print(f"  • {line}")
        raise typer.Exit(EXIT_CONFIG) from None


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the bot against signal-cli-rest-api (json-rpc mode) until SIGINT/SIGTERM."""
    from bot.app import LanternApp, NotMigratedError
    from bot.vault import NotInitialisedError

    settings = _settings(config)
    try:
        settings.require_bot_number()
        file_catalogue(settings.roles_file)  # `lantern roles` shows what is wrong in it
    except ConfigError as exc:
        err.print("[bold red]Configuration error[/]")
        for line in str(exc).splitlines():
            err.print(f"  • {line}")
        raise typer.Exit(EXIT_CONFIG) from None
    configure_logging(settings.log_level)
    guard_stderr()

    async def main() -> None:
        lantern = LanternApp(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        err.print(f"Connecting to signal-cli-rest-api at {settings.signal_service} …")
        try:
            await lantern.start()
            vault = lantern.vault
            if vault.sealed and vault.enrolling:
                state = "SEALED: send UNSEAL <passphrase>, then coordinators send ENROLL <code>"
            elif vault.enrolling:
                state = "open for enrollment: each coordinator sends ENROLL <code>"
            elif vault.sealed:
                state = "SEALED: coordinators send UNSEAL <their words> to the bot"
            else:
                state = "unsealed"
            err.print(f"[green]Lantern is running[/] ({state}). Press Ctrl-C to stop.")
            await stop.wait()
        finally:
            await lantern.stop()

    try:
        asyncio.run(main())
    except NotMigratedError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_NOT_MIGRATED) from None
    except NotInitialisedError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_CONFIG) from None


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Create or upgrade the database schema to the latest version (safe to repeat)."""
    from storage.migrate import current_revision, head_revision, upgrade

    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = settings.effective_database_url
    try:
        before = current_revision(url)
        with err.status("Migrating database …"):
            upgrade(url)
    except Exception as exc:
        err.print(f"[bold red]Migration failed:[/] {type(exc).__name__}")
        raise typer.Exit(EXIT_RUNTIME) from None
    head = head_revision()
    if before == head:
        err.print(f"Database already at the latest version ({head}).")
    else:
        err.print(f"[green]Database migrated[/] from {before or 'empty'} to {head}.")


@app.command()
def init(
    name: Annotated[
        str,
        typer.Option(
            help="The network's name. Encrypted once the bot first starts; until then (and in "
            "PostgreSQL's old row versions until VACUUM) it is plaintext: use a name that "
            "identifies no one.",
        ),
    ],
    coordinators: Annotated[
        int, typer.Option(min=1, max=16, help="How many coordinators hold a share (n).")
    ] = 3,
    threshold: Annotated[
        int, typer.Option(min=1, max=16, help="How many shares unseal the bot (k).")
    ] = 2,
    passphrase: Annotated[
        bool,
        typer.Option(
            "--passphrase",
            help="Single-operator mode: unseal with a passphrase instead of k-of-n shares "
            "(weaker: one person can unseal). You are asked for it twice.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Create the network and print one enrollment code per coordinator.

    Give each code to one coordinator, in person. Each sends ENROLL <code> to the bot;
    when all have enrolled, the bot sends each their share of the unseal key.
    """
    from bot.app import LanternApp, NotMigratedError
    from bot.setup import AlreadyInitialisedError, init_network

    if threshold > coordinators:
        err.print("[bold red]--threshold cannot be larger than --coordinators[/]")
        raise typer.Exit(EXIT_CONFIG)
    if not passphrase and (coordinators < 2 or threshold < 2):
        err.print(
            "[bold red]k-of-n needs --threshold of at least 2 (one share alone must never "
            "unseal); use --passphrase for a single operator[/]"
        )
        raise typer.Exit(EXIT_CONFIG)
    secret = None
    if passphrase:
        secret = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
        if len(secret) < 12:
            err.print("[bold red]Use a passphrase of at least 12 characters.[/]")
            raise typer.Exit(EXIT_CONFIG)
    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def main() -> list[str]:
        lantern = LanternApp(settings)
        try:
            await lantern.check_migrated()
            with err.status("Creating the network …"):
                return await init_network(
                    lantern.db,
                    name=name,
                    coordinators=coordinators,
                    threshold=threshold,
                    passphrase=secret,
                )
        finally:
            await lantern.db.dispose()

    try:
        codes = asyncio.run(main())
    except NotMigratedError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_NOT_MIGRATED) from None
    except AlreadyInitialisedError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_CONFIG) from None
    for code in codes:
        out.print(code)
    if passphrase:
        err.print(
            f"{coordinators} enrollment code(s). Start the bot, send UNSEAL <passphrase>, "
            "then each coordinator sends ENROLL <code>."
        )
    else:
        err.print(
            f"{coordinators} enrollment code(s), one per coordinator, valid 7 days. Start the "
            f"bot; each coordinator sends ENROLL <code>. Any {threshold} of them can unseal."
        )


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    bot_number: Annotated[str, typer.Option(help="The bot's account number.")] = "+12025550100",
) -> None:
    """Run the local Signal sandbox (signal-cli-rest-api emulator) on its own."""
    from sandbox.server import run_standalone

    run_standalone(host, port, bot_number)


@app.command()
def demo(
    script: Annotated[
        Path | None,
        typer.Option(
            help="Play this scenario non-interactively, print the transcript, exit.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    bundled: Annotated[bool, typer.Option(help="Play the bundled scenario.")] = False,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its database.")] = Path(
        ".lantern-demo"
    ),
) -> None:
    """Play several people chatting with the bot, on SQLite and the local sandbox."""
    from bot.demo import bundled_scenario, run_demo

    configure_logging("WARNING")
    guard_stderr()
    chosen = bundled_scenario() if bundled else script
    code = asyncio.run(run_demo(data_dir=data_dir, script=chosen))
    raise typer.Exit(code)


@app.command("config")
def show_config(config: ConfigOption = None) -> None:
    """Validate the configuration and print it (the database password is hidden)."""
    settings = _settings(config)
    for key, value in settings.redacted().items():
        out.print(f"{key} = {value!r}")


# --- keys: rotation is requested here and done by the running, unsealed bot ----------

keys_app = typer.Typer(
    help="Key rotation. This command holds no keys: it records a request in the database "
    "and the running, unsealed bot does the work.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

KEYS_POLL_SECONDS = 1.0  # how often `keys rotate` re-reads progress
KEYS_STALL_SECONDS = 15.0  # no progress for this long: say who does the work
BOT_DOES_THE_WORK = "The running, unsealed bot does the work; progress will continue after unseal."


def _keys_db(config: Path | None) -> Settings:
    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return settings


def _keys_run(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    """Run ``work`` on a migrated database; map the usual failures to exit codes."""
    from bot.app import LanternApp, NotMigratedError
    from bot.vault import NotInitialisedError

    async def main() -> int:
        lantern = LanternApp(settings)
        try:
            await lantern.check_migrated()
            return await work(lantern.db)
        finally:
            await lantern.db.dispose()

    try:
        return asyncio.run(main())
    except NotMigratedError as exc:
        err.print(f"[bold red]{exc}[/]")
        return EXIT_NOT_MIGRATED
    except NotInitialisedError as exc:
        err.print(f"[bold red]{exc}[/]")
        return EXIT_CONFIG


@keys_app.command("rotate")
def keys_rotate(
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait", help="Only record the request; do not watch the bot carry it out."
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=1,
            help="Stop watching after this many seconds (exit 1); the bot carries on.",
        ),
    ] = 600.0,
    config: ConfigOption = None,
) -> None:
    """Rotate every cell's key: a new key version, all data keys re-wrapped, old ones deleted.

    Records the request (no keys needed) and, unless --no-wait, shows progress until no
    data key is left on an old version. Exit 0 when done, 1 on timeout, 2 without a
    network, 3 if the database is not migrated.
    """
    from bot.keyjobs import request_rotation

    settings = _keys_db(config)

    async def work(db: Database) -> int:
        stamp, new = await request_rotation(db)
        when = stamp.strftime("%Y-%m-%d %H:%M:%S UTC")
        if new:
            err.print(f"[green]Key rotation requested[/] ({when}).")
        else:
            err.print(f"A key rotation is already pending since {when}.")
        if no_wait:
            err.print(f"{BOT_DOES_THE_WORK} Check with `lantern keys status`.")
            return 0
        return await _watch_rotation(db, timeout)

    raise typer.Exit(_keys_run(settings, work))


async def _watch_rotation(db: Database, give_up_after: float) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bot.keyjobs import RotationStatus, rotation_status

    async def poll() -> RotationStatus:
        async with db.transaction() as session:
            return await rotation_status(session)

    loop = asyncio.get_running_loop()
    started = last_change = loop.time()
    status = await poll()
    total = max(status.remaining, 1)
    last, warned = status.remaining, False
    columns = (TextColumn("Re-wrapping data keys"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("rotate", total=total)
        while not status.done:
            now = loop.time()
            if now - started >= give_up_after:
                break
            if status.remaining != last:
                last, last_change = status.remaining, now
            elif not warned and now - last_change >= KEYS_STALL_SECONDS:
                bar.console.print(f"[yellow]No progress yet.[/] {BOT_DOES_THE_WORK}")
                warned = True
            total = max(total, status.remaining)
            bar.update(task, total=total, completed=total - status.remaining)
            await asyncio.sleep(KEYS_POLL_SECONDS)
            status = await poll()
    if not status.done:
        err.print(
            f"[bold red]Timed out after {give_up_after:g} s[/] with {status.remaining} data key(s) "
            f"still to re-wrap. {BOT_DOES_THE_WORK} Check with `lantern keys status`."
        )
        return EXIT_RUNTIME
    err.print(f"[green]Key rotation done[/]: {status.cells} cell(s), 0 keys on old versions.")
    return 0


@keys_app.command("status")
def keys_status(config: ConfigOption = None) -> None:
    """Print how many cells have keys, how many data keys are on old key versions, and
    whether a rotation is pending. Needs no keys."""
    from bot.keyjobs import rotation_status

    settings = _keys_db(config)

    async def work(db: Database) -> int:
        async with db.transaction() as session:
            status = await rotation_status(session)
        out.print(f"cells with keys: {status.cells}")
        out.print(f"keys on old versions: {status.old_keys}")
        if status.requested_at is None:
            out.print("rotation: none pending")
        else:
            when = status.requested_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            out.print(
                f"rotation: pending since {when}, {status.cells_pending} cell(s) not started, "
                f"{status.remaining} data key(s) to re-wrap"
            )
        return 0

    raise typer.Exit(_keys_run(settings, work))


# --- delivery: Signal's captcha and the outbox, without keys ---------------------------


@app.command()
def captcha(
    link: Annotated[
        str, typer.Argument(help="The signalcaptcha://… link copied after solving the captcha.")
    ],
    config: ConfigOption = None,
) -> None:
    """Lift Signal's captcha challenge so the bot resumes sending (works sealed or not).

    Solve one at https://signalcaptchas.org/challenge/generate.html and copy the link
    behind "Open Signal". Exit 0 when accepted (the running bot resumes within seconds),
    1 if Signal rejected it or could not be reached, 2 if no captcha is pending.
    """
    from bot.captcha import Solved, captcha_link, solve
    from bot.signalapi import SignalAPI, SignalSendError

    settings = _keys_db(config)
    captcha_value = captcha_link(link)
    if captcha_value is None:
        err.print("[bold red]That is not a signalcaptcha://… link.[/]")
        raise typer.Exit(EXIT_CONFIG)
    try:
        settings.require_bot_number()
    except ConfigError as exc:
        err.print(f"[bold red]Configuration error[/]\n  • {exc}")
        raise typer.Exit(EXIT_CONFIG) from None
    api = SignalAPI(
        settings.signal_service,
        settings.bot_number,
        connection_mode=settings.signal_connection,
    )

    async def work(db: Database) -> int:
        try:
            result = await solve(db, api, captcha_value)
        except SignalSendError as exc:
            err.print(f"[bold red]Could not reach signal-cli-rest-api[/] ({exc}).")
            return EXIT_RUNTIME
        if result is Solved.NOTHING:
            err.print("No captcha is pending: nothing to do.")
        elif result is Solved.REJECTED:
            err.print(
                "[bold red]Signal rejected that captcha[/] (old, already used or from "
                "another challenge). Solve a new one and try again."
            )
        else:
            err.print("[green]Captcha accepted.[/] The bot resumes sending within seconds.")
        return int(result)

    raise typer.Exit(_keys_run(settings, work))


@app.command()
def outbox(config: ConfigOption = None) -> None:
    """Show the outbox: messages by state and priority, any pause, a pending captcha.
    Needs no keys."""
    from rich.table import Table

    from storage.outbox import OutboxRepository

    settings = _keys_db(config)
    names = {0: "reply", 1: "urgent", 2: "routine", 3: "bulk"}
    states = ("queued", "sending", "sent", "failed", "withheld")

    async def work(db: Database) -> int:
        async with db.transaction() as session:
            repo = OutboxRepository(session, None)
            counts, standing = await repo.counts(), await repo.standing()
        table = Table(title="Outbox")
        table.add_column("priority")
        for state in states:
            table.add_column(state, justify="right")
        for priority in sorted({p for _, p in counts} | set(names)):
            cells = [str(counts.get((state, priority), 0)) for state in states]
            table.add_row(names.get(priority, str(priority)), *cells)
        out.print(table)
        if standing.paused_until is not None and standing.paused_until > datetime.now(UTC):
            when = standing.paused_until.strftime("%Y-%m-%d %H:%M:%S UTC")
            out.print(f"paused until {when} (Signal rate limit)")
        else:
            out.print("paused: no")
        if standing.challenge is not None:
            out.print("captcha: PENDING — sending is paused; run `lantern captcha <link>`")
        else:
            out.print("captcha: none pending")
        return 0

    raise typer.Exit(_keys_run(settings, work))


register_roles(app, _settings)


def main() -> None:
    os.umask(0o077)  # databases and WAL files: readable by the bot user only
    app()
