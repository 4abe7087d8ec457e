"""The project's one router: first match wins.

signalbot hands every registered handler every message, so Lantern registers exactly
one entry handler and routes here.  Commands are case-insensitive, a leading ``/`` is
optional, and each command may have aliases in other languages ("ayuda" for "help").

Order of decisions for one text:
1. ``cancel`` and ``help`` work everywhere, even inside a dialog;
2. inside a dialog, the text is the answer to the current question;
3. a known command the sender may use (by its first word, else by the shape of the
   whole text: ``2`` or ``P7K2 1`` answer a coordinator's prompt);
4. a stranger gets the one stranger reply (same for anything they send);
5. a member gets a short hint.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from bot.context import Context
from bot.i18n import _

Handler = Callable[[Context], Awaitable[None]]
Step = Callable[[Context], Awaitable[None]]
Applies = Callable[[dict[str, Any]], bool]
Lifetime = Callable[[Any], tuple[timedelta, timedelta | None]]  # settings -> (life, remind)


class Audience(Enum):
    ANYONE = "anyone"
    STRANGER = "stranger"
    MEMBER = "member"
    ORGANIZER = "organizer"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    handler: Handler
    audience: Audience
    summary: str
    in_dialog: bool = False
    hidden: bool = False


def split_command(text: str) -> tuple[str, str]:
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    if not word:
        return "", ""
    word = word.split("\n", 1)[0]
    rest = stripped[len(word) :].strip()
    return word.lstrip("/").casefold(), rest


class Router:
    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._by_word: dict[str, Command] = {}
        self._patterns: list[tuple[re.Pattern[str], Command]] = []
        self._steps: dict[tuple[str, str], tuple[Step, Step]] = {}
        self._flow_order: dict[str, list[str]] = {}
        self._applies: dict[tuple[str, str], Applies] = {}
        self._lifetimes: dict[str, Lifetime] = {}
        self.on_stranger: Handler | None = None
        self.on_unknown: Handler | None = None
        self.on_already_member: Handler | None = None

    def command(
        self,
        name: str,
        *aliases: str,
        audience: Audience,
        summary: str,
        in_dialog: bool = False,
        hidden: bool = False,
    ) -> Callable[[Handler], Handler]:
        """``hidden`` commands are left out of HELP (enrollment: strangers must not learn
        that a network is being set up)."""

        def register(handler: Handler) -> Handler:
            cmd = Command(name, aliases, handler, audience, summary, in_dialog, hidden)
            for word in (name, *aliases):
                if word.casefold() in self._by_word:
                    raise ValueError(f"command word {word!r} registered twice")
                self._by_word[word.casefold()] = cmd
            self._commands.append(cmd)
            return handler

        return register

    def pattern(
        self, name: str, regex: re.Pattern[str], *, audience: Audience
    ) -> Callable[[Handler], Handler]:
        """A hidden command recognised by the shape of the whole text rather than a word
        (``2``, ``P7K2 1``).  Tried only when no command word matches; someone outside the
        audience gets the usual fallback, exactly as for any unknown text."""

        def register(handler: Handler) -> Handler:
            cmd = Command(name, (), handler, audience, "", hidden=True)
            self._patterns.append((regex, cmd))
            return handler

        return register

    def _by_shape(self, text: str) -> Command | None:
        for regex, cmd in self._patterns:
            if regex.fullmatch(text.strip()):
                return cmd
        return None

    def step(
        self, flow: str, state: str, *, prompt: Step, applies: Applies | None = None
    ) -> Callable[[Step], Step]:
        """Register the answer handler of one dialog state and the prompt that asks it.

        States are ordered by registration, which is what ``back`` and :meth:`advance`
        walk; ``applies`` (given the draft) skips a question that does not concern this
        person (the language question for someone who already chose one).
        """

        def register(handler: Step) -> Step:
            self._steps[(flow, state)] = (handler, prompt)
            self._flow_order.setdefault(flow, []).append(state)
            if applies is not None:
                self._applies[(flow, state)] = applies
            return handler

        return register

    def flow_lifetime(self, flow: str, lifetime: Lifetime) -> None:
        """A flow whose drafts live longer than the default and get a reminder."""
        self._lifetimes[flow] = lifetime

    def lifetime(self, flow: str, settings: Any) -> tuple[timedelta, timedelta | None]:
        found = self._lifetimes.get(flow)
        if found is None:
            return timedelta(minutes=settings.dialog_minutes), None
        return found(settings)

    def _applicable(self, flow: str, state: str, data: dict[str, Any]) -> bool:
        check = self._applies.get((flow, state))
        return check is None or check(data)

    async def advance(self, ctx: Context) -> bool:
        """Ask the next question that applies; False when the flow has none left."""
        assert ctx.dialog is not None
        flow, data = ctx.dialog.flow, ctx.dialog.data
        order = self._flow_order[flow]
        for state in order[order.index(ctx.dialog.state) + 1 :]:
            if self._applicable(flow, state, data):
                await self.ask(ctx, state)
                return True
        return False

    async def start(self, ctx: Context, flow: str, data: dict[str, Any]) -> None:
        """Begin a flow at its first question that applies."""
        first = next(s for s in self._flow_order[flow] if self._applicable(flow, s, data))
        await ctx.start_dialog(flow, first, data)
        await self.reprompt(ctx)

    async def ask(self, ctx: Context, state: str, *, flow: str | None = None) -> None:
        """Move the dialog to ``state`` and ask its question."""
        await ctx.goto(state, flow=flow)
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        if ctx.dialog is None:
            return
        _, prompt = self._steps[(ctx.dialog.flow, ctx.dialog.state)]
        await prompt(ctx)

    async def back(self, ctx: Context) -> bool:
        """Go to the previous question; False if already at the first one."""
        assert ctx.dialog is not None
        flow, data = ctx.dialog.flow, ctx.dialog.data
        order = self._flow_order[flow]
        earlier = order[: order.index(ctx.dialog.state)]
        for state in reversed(earlier):
            if self._applicable(flow, state, data):
                await self.ask(ctx, state)
                return True
        return False

    def commands_for(self, ctx: Context) -> list[Command]:
        """What this person may use, in registration order — the source of ``help``."""
        return [c for c in self._commands if not c.hidden and self.allowed(c, ctx)]

    @staticmethod
    def allowed(cmd: Command, ctx: Context) -> bool:
        if cmd.audience is Audience.ANYONE:
            return True
        if cmd.audience is Audience.MEMBER:
            return ctx.member is not None
        if cmd.audience is Audience.ORGANIZER:
            return ctx.member is not None and (ctx.is_organizer or ctx.member.is_coordinator)
        if cmd.audience is Audience.COORDINATOR:
            return ctx.member is not None and ctx.member.is_coordinator
        return ctx.member is None

    @staticmethod
    def _quarantine_blocks(cmd: Command, ctx: Context) -> bool:
        """Someone whose safety number changed keeps the basics (help, me, lang, leave)
        and the panic button, but no organizer or coordinator power until verified."""
        if ctx.member is None or not ctx.member.quarantined:
            return False
        return cmd.audience in (Audience.ORGANIZER, Audience.COORDINATOR) and cmd.name != "seal"

    async def fallback(self, ctx: Context) -> None:
        """What anyone hears for something they may not do: the same as for nonsense."""
        handler = self.on_stranger if ctx.member is None else self.on_unknown
        assert handler is not None
        await handler(ctx)

    def lookup(self, word: str) -> Command | None:
        return self._by_word.get(word)

    def has_step(self, flow: str, state: str) -> bool:
        return (flow, state) in self._steps

    async def dispatch(self, ctx: Context) -> None:
        ctx.command, ctx.args = split_command(ctx.text)
        cmd = self.lookup(ctx.command) or self._by_shape(ctx.text)
        if ctx.dialog is not None:
            # Only a bare word is a command inside a dialog: "cancel my lease…" is an answer.
            if cmd is not None and cmd.in_dialog and not ctx.args:
                await cmd.handler(ctx)
                return
            found = self._steps.get((ctx.dialog.flow, ctx.dialog.state))
            if found is not None:
                await found[0](ctx)
                return
            await ctx.end_dialog()  # a state from an older version: start afresh
        if cmd is not None and self.allowed(cmd, ctx) and self._quarantine_blocks(cmd, ctx):
            ctx.reply(_("quarantine.withheld"))
        elif cmd is not None and self.allowed(cmd, ctx):
            await cmd.handler(ctx)
        elif ctx.member is None:
            assert self.on_stranger is not None
            await self.on_stranger(ctx)
        elif cmd is not None and cmd.audience is Audience.STRANGER and self.on_already_member:
            await self.on_already_member(ctx)
        else:
            assert self.on_unknown is not None
            await self.on_unknown(ctx)
