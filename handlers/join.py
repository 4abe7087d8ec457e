"""Joining with an invite code.

```mermaid
stateDiagram-v2
    [*] --> language: JOIN <code> (valid)
    language --> handle: 1 / 2 / en / es
    handle --> consent: a free, valid handle
    consent --> [*]: YES (code used up, member created)
    consent --> [*]: NO (nothing stored)
    language --> [*]: CANCEL
    handle --> language: BACK
    consent --> handle: BACK
```

The code is only checked at the start and used up at the very end, so someone who
cancels half way can start again with the same code.  Nothing about the person is
stored until they say yes to the privacy notice.
"""

from __future__ import annotations

import re

from babel.dates import format_timedelta

from bot.context import Context
from bot.i18n import _, language_menu, normalise_language, parse_yes_no
from bot.router import Audience, Router
from security.codes import looks_like_code, normalise_code

FLOW = "join"
_HANDLE = re.compile(r"^[\w\-.]{3,20}$")
_DIGITS = re.compile(r"\d")


def timer_words(ctx: Context, seconds: int) -> str:
    if seconds <= 0:
        return ctx.t(_("timer.off"))
    return format_timedelta(seconds, threshold=1.0, locale=ctx.language)


def handle_problem(handle: str) -> str | None:
    """The message id explaining what is wrong with a proposed handle, if anything."""
    if not _HANDLE.match(handle):
        return _("join.handle_invalid")
    if len(_DIGITS.findall(handle)) >= 6:
        return _("join.handle_looks_like_number")
    return None


async def cmd_join(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(_("join.need_code"))
        return
    if not looks_like_code(ctx.args) or await ctx.repos.invites.peek(ctx.args, now=ctx.now) is None:
        ctx.reply(_("join.bad_code"))
        return
    await ctx.start_dialog(FLOW, "language", {"code": normalise_code(ctx.args)})
    ctx.set_timer(ctx.settings.disappearing_timer)
    await ctx.router.reprompt(ctx)


async def ask_language(ctx: Context) -> None:
    ctx.reply(_("join.ask_language"), menu=language_menu())


async def answer_language(ctx: Context) -> None:
    language = normalise_language(ctx.text)
    if language is None:
        ctx.reply(_("join.language_unclear"), menu=language_menu())
        return
    await ctx.update_dialog(language=language)
    await ctx.router.ask(ctx, "handle")


async def ask_handle(ctx: Context) -> None:
    ctx.reply(_("join.ask_handle"))


async def answer_handle(ctx: Context) -> None:
    handle = ctx.text.strip()
    problem = handle_problem(handle)
    if problem is not None:
        ctx.reply(problem)
        return
    if await ctx.repos.members.handle_taken(handle):
        ctx.reply(_("join.handle_taken"), handle=handle)
        return
    await ctx.update_dialog(handle=handle)
    await ctx.router.ask(ctx, "consent")


async def ask_consent(ctx: Context) -> None:
    assert ctx.dialog is not None
    ctx.reply(
        _("join.privacy"),
        handle=ctx.dialog.data["handle"],
        timer=timer_words(ctx, ctx.settings.disappearing_timer),
    )


async def answer_consent(ctx: Context) -> None:
    assert ctx.dialog is not None
    decision = parse_yes_no(ctx.text)
    if decision is None:
        ctx.reply(_("join.consent_unclear"))
        return
    if not decision:
        await ctx.end_dialog()
        ctx.reply(_("join.declined"))
        return
    data = ctx.dialog.data
    if await ctx.repos.members.handle_taken(data["handle"]):
        ctx.reply(_("join.handle_taken"), handle=data["handle"])
        await ctx.router.ask(ctx, "handle")
        return
    role = await ctx.repos.invites.consume(data["code"], now=ctx.now)
    if role is None:
        await ctx.end_dialog()
        ctx.reply(_("join.code_gone"))
        return
    ctx.member = await ctx.repos.members.create(
        account=ctx.sender,
        handle=data["handle"],
        language=data["language"],
        role=role,
        timer_seconds=ctx.settings.disappearing_timer,
    )
    await ctx.end_dialog()
    ctx.reply(_("join.done"), handle=ctx.member.handle)


def register(router: Router) -> None:
    router.command("join", "unirse", "unirme", audience=Audience.STRANGER, summary=_("help.join"))(
        cmd_join
    )
    router.step(FLOW, "language", prompt=ask_language)(answer_language)
    router.step(FLOW, "handle", prompt=ask_handle)(answer_handle)
    router.step(FLOW, "consent", prompt=ask_consent)(answer_consent)
