"""Joining a cell with an invite code, and coordinators enrolling with theirs.

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

``ENROLL <code>`` (coordinators of a network fresh from ``lantern init``) walks the same
three questions.  The code is only checked at the start and used up at the very end, so
someone who cancels half way can start again with the same code.  Nothing about the
person is stored until they say yes to the privacy notice.  A member who already
belongs to one cell joins another with ``JOIN <code>`` in one step.
"""

from __future__ import annotations

import re

from babel.dates import format_timedelta

from bot.context import Context
from bot.i18n import _, language_menu, normalise_language, parse_yes_no
from bot.router import Audience, Router
from handlers import rekey
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
    valid = looks_like_code(ctx.args) and not await ctx.repos.members.is_banned(ctx.sender)
    invite = await ctx.repos.invites.peek(ctx.args, now=ctx.now) if valid else None
    if invite is None:
        ctx.reply(_("join.bad_code"))
        return
    if ctx.member is not None:
        await _join_another_cell(ctx)
        return
    await ctx.start_dialog(FLOW, "language", {"code": normalise_code(ctx.args)})
    ctx.set_timer(ctx.settings.disappearing_timer)
    await ctx.router.reprompt(ctx)


async def _join_another_cell(ctx: Context) -> None:
    assert ctx.member is not None
    found = await ctx.repos.invites.peek(ctx.args, now=ctx.now)
    if found is not None and await ctx.repos.cells.role_in(ctx.member.id, found.cell_id):
        ctx.reply(_("join.already_member"))  # and the code stays usable for someone else
        return
    invite = await ctx.repos.invites.consume(ctx.args, now=ctx.now)
    cell = None if invite is None else await ctx.repos.cells.by_id(invite.cell_id)
    if invite is None or cell is None or cell.retired:
        ctx.reply(_("join.bad_code"))
        return
    await ctx.repos.cells.add_member(ctx.member.id, cell.id, invite.role)
    ctx.reply(_("join.added_cell"), cell=cell.name, ref=cell.ref)


async def cmd_enroll(ctx: Context) -> None:
    network = ctx.network
    valid = (
        network is not None
        and (network.state == "enrolling" or (network.state == "active" and ctx.member is None))
        and looks_like_code(ctx.args)
        and await ctx.repos.network.enrollment_valid(network.id, ctx.args, now=ctx.now)
    )
    if not valid:
        await ctx.router.fallback(ctx)
        return
    await ctx.start_dialog(FLOW, "language", {"enroll": normalise_code(ctx.args)})
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
    if "enroll" in data:
        await _finish_enroll(ctx, data)
        return
    invite = await ctx.repos.invites.consume(data["code"], now=ctx.now)
    cell = None if invite is None else await ctx.repos.cells.by_id(invite.cell_id)
    if invite is None or cell is None or cell.retired:
        await ctx.end_dialog()
        ctx.reply(_("join.code_gone"))
        return
    ctx.member = await ctx.repos.members.create(
        account=ctx.sender,
        handle=data["handle"],
        language=data["language"],
        role="member",
        timer_seconds=ctx.settings.disappearing_timer,
        home_cell_id=cell.id,
    )
    await ctx.repos.cells.add_member(ctx.member.id, cell.id, invite.role)
    await ctx.end_dialog()
    ctx.after_commit("pin_identity")
    ctx.reply(_("join.done"), handle=ctx.member.handle, cell=cell.name, ref=cell.ref)


async def _finish_enroll(ctx: Context, data: dict[str, str]) -> None:
    network, council = ctx.network, await ctx.repos.cells.council()
    used = network is not None and await ctx.repos.network.use_enrollment(
        network.id, data["enroll"], now=ctx.now
    )
    if not used or network is None or council is None:
        await ctx.end_dialog()
        ctx.reply(_("join.code_gone"))
        return
    candidate = network.state == "active"  # joins the coordinators only through a rekey
    ctx.member = await ctx.repos.members.create(
        account=ctx.sender,
        handle=data["handle"],
        language=data["language"],
        role="candidate" if candidate else "coordinator",
        timer_seconds=ctx.settings.disappearing_timer,
        home_cell_id=council.id,
    )
    await ctx.end_dialog()
    ctx.after_commit("pin_identity")
    if candidate:
        await rekey.candidate_enrolled(ctx)
        return
    enrolled = len(await ctx.repos.members.with_role("coordinator"))
    ctx.reply(_("enroll.done"), handle=ctx.member.handle, count=enrolled, total=network.share_count)
    if enrolled >= network.share_count:
        ctx.after_commit("deal" if network.mode == "shares" else "activate")


def register(router: Router) -> None:
    router.command("join", "unirse", "unirme", audience=Audience.ANYONE, summary=_("help.join"))(
        cmd_join
    )
    router.command("enroll", "inscribir", audience=Audience.ANYONE, summary="", hidden=True)(
        cmd_enroll
    )
    router.step(FLOW, "language", prompt=ask_language)(answer_language)
    router.step(FLOW, "handle", prompt=ask_handle)(answer_handle)
    router.step(FLOW, "consent", prompt=ask_consent)(answer_consent)
