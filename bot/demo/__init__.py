"""``lantern demo``: play several people talking to the bot on the local sandbox.

The whole stack is real — the sandbox speaks signal-cli-rest-api, unmodified signalbot
talks to it, and the bot runs on a fresh SQLite database migrated with Alembic — and the
network is bootstrapped exactly as a real one is: ``lantern init``'s own function makes
the enrollment codes, coordinators enroll by message, the bot deals their shares, and a
restart comes back sealed until two of them send ``unseal`` with their words.  So what
the demo shows is what a real deployment does.  The scenario language is described at
the top of ``scenario.txt``; interactive mode (``make demo``) plays the bundled scenario
up to its ``handover`` line, then lets you type.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from babel.dates import format_timedelta
from rich.console import Console
from rich.markup import escape

from bot.app import LanternApp
from bot.config import Settings
from bot.dispatcher import UNSEAL_WORDS
from bot.router import split_command
from bot.setup import init_network
from sandbox.server import SandboxServer
from sandbox.state import Delivered, SandboxState
from storage.migrate import upgrade

console = Console(highlight=False, soft_wrap=True)
REPLY_TIMEOUT = 10.0
QUIET = 0.4

# What ``capture`` can take from the bot's messages to one person.
FINDERS = {
    "code": re.compile(r"^([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})$"),  # a message of its own
    "share": re.compile(r"^([a-z]+(?: [a-z]+){19,32})$", re.MULTILINE),  # SLIP-39 words
    "ref": re.compile(r"\(ref ([0-9A-Z]{5})\)"),
    "case": re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b"),  # a case id
}
MESSAGE = re.compile(r"^([^\s:]+):(.*)$")
VARIABLE = re.compile(r"\{(\w+)\}")

BANNER = """\
[bold]Lantern demo[/] — you play several people chatting with the bot.
  /as NAME             speak as NAME          /who       list people
  /new NAME \\[hidden]   add a person           /vars      codes, refs and shares so far
  /restart             restart the bot: it comes back sealed
  /quit                stop                   anything else is sent to the bot
In a message, {{name}} inserts a value from /vars ({{code}}: the last code the bot sent).
The bundled scenario has set the network up: coordinators Coral, Dario and Ema hold the
shares, Olga organizes cell {cell} and has invited Ana and Ben (number hidden).
Try:  /as Ana  unirse {{ana_code}}   or   /as Ben  join {{ben_code}}
Then: /restart, a message as Ana, and  /as Coral  unseal {{coral_share}},
      /as Ema  unseal {{ema_share}}  — Ana gets her answer.
"""


def bundled_scenario() -> Path:
    return Path(str(resources.files("bot.demo").joinpath("scenario.txt")))


class DemoError(Exception):
    pass


def find(kind: str, text: str) -> str | None:
    found = FINDERS[kind].search(text.strip() if kind == "code" else text)
    return found.group(1) if found else None


class Demo:
    def __init__(self, state: SandboxState, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.lantern: LanternApp | None = None
        self.variables: dict[str, str] = {}
        self.cursor = state.last_seq
        self.current: str | None = None

    # --- the operator's side ---------------------------------------------------------

    async def init(self, options: dict[str, str]) -> None:
        """What ``lantern init`` does (its own function, in-process), then ``lantern run``."""
        if self.lantern is not None:
            raise DemoError("init: the network exists already")
        try:
            name = options.pop("name", "Demo network")
            count = int(options.pop("coordinators", "3"))
            threshold = int(options.pop("threshold", "2"))
        except ValueError:
            raise DemoError("init: coordinators and threshold are numbers") from None
        if options:
            raise DemoError(f"init: unknown option(s) {', '.join(options)}")
        console.print(
            f"[bold yellow]operator:[/] lantern init --name {shlex.quote(name)} "
            f"--coordinators {count} --threshold {threshold}"
        )
        setup = LanternApp(self.settings)
        try:
            await setup.check_migrated()
            codes = await init_network(setup.db, name=name, coordinators=count, threshold=threshold)
        except ValueError as exc:
            raise DemoError(f"init: {exc}") from None
        finally:
            await setup.db.dispose()
        for number, code in enumerate(codes, start=1):
            self.variables[f"enroll{number}"] = code
            console.print(f"    [dim]enrollment code {{enroll{number}}} = {code}[/]")
        await self.start_bot()

    async def start_bot(self) -> None:
        lantern = LanternApp(self.settings)
        try:
            await lantern.start()
            await self.state.wait_for_receiver()
        except BaseException:
            await lantern.stop()
            raise
        self.lantern = lantern
        vault = lantern.vault
        how = "enrolling" if vault.enrolling else "sealed" if vault.sealed else "unsealed"
        console.print(f"[bold yellow]operator:[/] lantern run [dim](the bot is up: {how})[/]")

    async def restart(self) -> None:
        if self.lantern is None:
            raise DemoError("restart: the bot is not running (init first)")
        console.print()
        console.print("[bold yellow]operator:[/] restarts the bot [dim](all keys leave memory)[/]")
        await self.stop_bot()
        for _ in range(250):  # the old receive websocket must be gone first
            if self.state.receiver_count == 0:
                break
            await asyncio.sleep(0.02)
        await self.start_bot()

    async def stop_bot(self) -> None:
        if self.lantern is not None:
            lantern, self.lantern = self.lantern, None
            await lantern.stop()

    # --- people ----------------------------------------------------------------------

    def add_persona(self, name: str, hidden: bool) -> None:
        persona = self.state.create_persona(name, hidden_number=hidden)
        shown = "number hidden" if persona.number is None else persona.number
        console.print(f"[dim]{escape(persona.name)} joins the sandbox ({shown})[/]")

    def substitute(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match.group(1) not in self.variables:
                raise DemoError(f"{{{match.group(1)}}} is not set (see /vars or capture)")
            return self.variables[match.group(1)]

        return VARIABLE.sub(value, text)

    def capture(self, var: str, kind: str, name: str) -> None:
        """The newest ``kind`` in the bot's messages to ``name``, into ``{var}``."""
        if kind not in FINDERS:
            raise DemoError(f"capture: {kind!r} is not one of {', '.join(FINDERS)}")
        persona = self.state.persona(name)
        for item in reversed(self.state.deliveries(persona=persona.uuid)):
            found = find(kind, item.text or "")
            if found is not None:
                self.variables[var] = found
                shown = f"{len(found.split())} words" if kind == "share" else found
                console.print(f"    [dim]{{{var}}} = {shown} (from the bot's message to {name})[/]")
                return
        raise DemoError(f"capture: the bot sent {name} no {kind}")

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

    async def say(self, name: str, text: str) -> list[Delivered]:
        if self.lantern is None:
            raise DemoError("the bot is not running yet: start the scenario with init")
        persona = self.state.persona(name)
        text = self.substitute(text)
        console.print(f"[bold cyan]{escape(persona.name)} → bot:[/] {escape(text)}")
        await self.state.inject_text(persona.uuid, text)
        replies = await self.collect(expect=True)
        if not replies:
            console.print("    [bold red](no reply — every message must be answered)[/]")
        return replies

    # --- scenarios -------------------------------------------------------------------

    async def play(self, lines: list[str], *, interactive: bool = False) -> int:
        """Play a scenario; returns how many messages got no reply.  Interactive mode
        plays only up to ``handover``."""
        failures = 0
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if line.startswith("##"):
                console.print(f"\n[bold magenta]— {escape(line.lstrip('#').strip())}[/]")
                continue
            if not line or line.startswith("#"):
                continue
            if line == "handover":
                if interactive:
                    break
                continue
            try:
                message = MESSAGE.match(line)
                if message:
                    console.print()
                    if not await self.say(message.group(1), message.group(2).strip()):
                        failures += 1
                else:
                    await self.directive(shlex.split(line))
            except (DemoError, KeyError, ValueError) as exc:
                raise DemoError(f"line {number}: {exc}") from None
        return failures

    async def directive(self, words: list[str]) -> None:
        match words:
            case ["persona", name]:
                self.add_persona(name, hidden=False)
            case ["persona", name, "hidden"]:
                self.add_persona(name, hidden=True)
            case ["init", *options] if all("=" in o for o in options):
                await self.init(dict(o.split("=", 1) for o in options))
            case ["capture", var, kind, "from", name]:
                self.capture(var, kind, name)
            case ["restart"]:
                await self.restart()
            case _:
                raise DemoError(f"cannot read {shlex.join(words)!r}")

    async def interactive(self, lines: list[str]) -> None:
        await self.play(lines, interactive=True)
        console.print()
        console.print(BANNER.format(cell=self.variables.get("cell", "?")))
        self.current = "Ana"
        while True:
            try:
                line = await asyncio.to_thread(input, f"{self.current}> ")
            except (EOFError, KeyboardInterrupt):
                return
            try:
                if not await self.interactive_line(line):
                    return
            except (DemoError, KeyError) as exc:
                console.print(f"  {escape(str(exc))}")

    async def interactive_line(self, line: str) -> bool:
        """One line typed by the user; False to quit."""
        words = line.split()
        if not words:
            return True
        command = words[0]
        if command == "/quit":
            return False
        if command == "/who":
            for p in self.state.personas():
                marker = " <" if p.name == self.current else ""
                console.print(f"  {p.name}{' (hidden number)' if p.number is None else ''}{marker}")
        elif command == "/vars":
            for key, value in self.variables.items():
                console.print(f"  {{{key}}} = {value}")
        elif command == "/as" and len(words) == 2:
            try:
                self.current = self.state.persona(words[1]).name
            except KeyError:
                console.print("  no such person; /who lists them, /new adds one")
        elif command == "/new" and len(words) in (2, 3):
            self.add_persona(words[1], hidden=words[-1] == "hidden")
            self.current = words[1]
        elif command == "/restart":
            await self.restart()
        elif command.startswith("/") and not self._bot_command(line):
            console.print("  unknown demo command; bot commands work with or without /")
        else:
            assert self.current is not None
            self.remember(await self.say(self.current, line))
        return True

    def _bot_command(self, line: str) -> bool:
        word, _rest = split_command(line)
        return word in UNSEAL_WORDS or (
            self.lantern is not None and self.lantern.router.lookup(word) is not None
        )

    def remember(self, replies: list[Delivered]) -> None:
        """Interactive mode: keep the last code, ref and each person's share at hand."""
        for item in replies:
            text = item.text or ""
            for kind, var in (("code", "code"), ("ref", "ref"), ("share", "share")):
                found = find(kind, text)
                if found is None:
                    continue
                if kind == "share" and item.persona:
                    var = f"share_{self.state.persona(item.persona).name.lower()}"
                self.variables[var] = found
                shown = f"{len(found.split())} words" if kind == "share" else found
                console.print(f"    [dim]{{{var}}} = {shown}[/]")


async def run_demo(*, data_dir: Path, script: Path | None) -> int:
    """Returns the process exit code: 0, 1 if any message went unanswered, 2 if the
    scenario cannot be read."""
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
    demo = Demo(server.state, settings)
    try:
        text = await asyncio.to_thread((script or bundled_scenario()).read_text, encoding="utf-8")
        if script is None:
            await demo.interactive(text.splitlines())
            return 0
        failures = await demo.play(text.splitlines())
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
        await demo.stop_bot()
        await server.stop()
        if script:
            shutil.rmtree(work, ignore_errors=True)
