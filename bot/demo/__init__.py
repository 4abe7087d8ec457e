"""``lantern demo``: play several people talking to the bot on the local sandbox.

The whole stack is real — the sandbox speaks signal-cli-rest-api, unmodified signalbot
talks to it, and the bot runs on a fresh SQLite database migrated with Alembic — so what
the demo shows is what a real deployment does.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from datetime import timedelta
from importlib import resources
from pathlib import Path

from babel.dates import format_timedelta
from rich.console import Console
from rich.markup import escape

from bot.app import LanternApp
from bot.config import Settings
from bot.invites import create_invites
from sandbox.server import SandboxServer
from sandbox.state import Delivered, SandboxState
from storage.migrate import upgrade

console = Console(highlight=False, soft_wrap=True)
REPLY_TIMEOUT = 10.0
QUIET = 0.4


def bundled_scenario() -> Path:
    return Path(str(resources.files("bot.demo").joinpath("scenario.txt")))


class DemoError(Exception):
    pass


class Demo:
    def __init__(self, state: SandboxState, lantern: LanternApp) -> None:
        self.state = state
        self.lantern = lantern
        self.variables: dict[str, str] = {}
        self.cursor = state.last_seq
        self.current: str | None = None

    def show_delivery(self, item: Delivered) -> None:
        name = self.state.persona(item.persona).name if item.persona else item.recipient
        timer = (
            f" [dim](disappears after {format_timedelta(item.expires_in_seconds, locale='en')})[/]"
            if item.expires_in_seconds
            else " [red](no disappearing timer)[/]"
        )
        console.print(f"    [bold green]bot → {escape(name)}[/]{timer}")
        for line in (item.text or "").splitlines() or [""]:
            console.print(f"      {escape(line)}")

    async def collect(self, *, expect: bool) -> list[Delivered]:
        """Wait for the bot's replies to settle; with ``expect``, at least one must come."""
        seen: list[Delivered] = []
        try:
            if expect:
                seen += await self.state.wait_for_deliveries(
                    None, 1, since=self.cursor, timeout=REPLY_TIMEOUT
                )
                self.cursor = seen[-1].seq
            while True:
                more = await self.state.wait_for_deliveries(
                    None, 1, since=self.cursor, timeout=QUIET
                )
                seen += more
                self.cursor = more[-1].seq
        except TimeoutError:
            pass
        for item in seen:
            self.show_delivery(item)
        return seen

    async def say(self, name: str, text: str) -> bool:
        persona = self.state.persona(name)
        text = text.format(**self.variables)
        console.print(f"[bold cyan]{escape(persona.name)} → bot:[/] {escape(text)}")
        await self.state.inject_text(persona.uuid, text)
        replies = await self.collect(expect=True)
        if not replies:
            console.print("    [bold red](no reply — every message must be answered)[/]")
        return bool(replies)

    def add_persona(self, name: str, hidden: bool) -> None:
        persona = self.state.create_persona(name, hidden_number=hidden)
        shown = "number hidden" if persona.number is None else persona.number
        console.print(f"[dim]{escape(persona.name)} joins the sandbox ({shown})[/]")

    async def add_invite(self, var: str, role: str) -> str:
        [code] = await create_invites(self.lantern.db, self.lantern.keys, role, 1, _hours(72))
        self.variables[var] = code
        console.print(f"[dim]invite {{{var}}} ({role}) = {code}[/]")
        return code

    async def play(self, lines: list[str]) -> int:
        failures = 0
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            if words[0] == "persona" and len(words) in (2, 3):
                self.add_persona(words[1], hidden=words[-1] == "hidden")
            elif words[0] == "invite" and len(words) in (2, 3):
                await self.add_invite(words[1], words[2] if len(words) == 3 else "member")
            elif ":" in line:
                name, _, text = line.partition(":")
                console.print()
                if not await self.say(name.strip(), text.strip()):
                    failures += 1
            else:
                raise DemoError(f"line {number}: cannot read {line!r}")
        return failures

    async def interactive(self) -> None:
        console.print(
            "[bold]Lantern demo[/] — you play several people chatting with the bot.\n"
            "  /new NAME [hidden]   add a person      /as NAME   speak as NAME\n"
            "  /invite [ROLE]       make an invite    /who       list people\n"
            "  /quit                stop              anything else is sent to the bot\n"
            "Start with: /invite, then type  join <code>"
        )
        for name, hidden in (("Ana", False), ("Ben", False), ("Chris", True)):
            self.add_persona(name, hidden)
        self.current = "Ana"
        while True:
            try:
                line = await asyncio.to_thread(input, f"{self.current}> ")
            except (EOFError, KeyboardInterrupt):
                return
            words = line.split()
            if not words:
                continue
            if words[0] == "/quit":
                return
            if words[0] == "/who":
                for p in self.state.personas():
                    console.print(f"  {p.name}{' (hidden number)' if p.number is None else ''}")
            elif words[0] == "/as" and len(words) == 2:
                try:
                    self.current = self.state.persona(words[1]).name
                except KeyError:
                    console.print("  no such person; /who lists them, /new adds one")
            elif words[0] == "/new" and len(words) in (2, 3):
                self.add_persona(words[1], hidden=words[-1] == "hidden")
                self.current = words[1]
            elif words[0] == "/invite":
                await self.add_invite(
                    f"code{len(self.variables) + 1}", words[1] if len(words) > 1 else "member"
                )
            elif words[0].startswith("/") and words[0][1:] not in (
                "help",
                "join",
                "me",
                "lang",
                "leave",
                "cancel",
                "back",
            ):
                console.print("  unknown demo command; bot commands work with or without /")
            else:
                await self.say(self.current, line)


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


async def run_demo(*, data_dir: Path, script: Path | None) -> int:
    """Returns the process exit code: 0, or 1 if any message went unanswered."""
    work = Path(tempfile.mkdtemp(prefix="lantern-demo-")) if script else data_dir
    if not script and work.exists():
        shutil.rmtree(work)  # personas are new each run, so old members would be orphans
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    server = SandboxServer()
    await server.start()
    settings = Settings(
        bot_number=server.state.bot_number, signal_service=server.url, data_dir=work
    )
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    lantern = LanternApp(settings)
    try:
        await lantern.start()
        await server.state.wait_for_receiver()
        demo = Demo(server.state, lantern)
        if script is None:
            await demo.interactive()
            return 0
        lines = await asyncio.to_thread(script.read_text, encoding="utf-8")
        failures = await demo.play(lines.splitlines())
        console.print()
        if failures:
            console.print(f"[bold red]{failures} message(s) got no reply.[/]")
            return 1
        console.print("[bold green]Scenario finished: every message was answered.[/]")
        return 0
    except DemoError as exc:
        print(f"scenario error: {exc}", file=sys.stderr)
        return 2
    finally:
        await lantern.stop()
        await server.stop()
        if script:
            shutil.rmtree(work, ignore_errors=True)
