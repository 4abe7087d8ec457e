"""Membership basics: help, me, lang, leave, cancel, back — and what strangers hear.

Strangers (never joined, left, or removed) all get exactly the same reply to anything
but ``join`` and ``help``: the bot must not reveal who is a member.
"""

from __future__ import annotations

from babel.dates import format_date

from bot.context import Context
from bot.i18n import LANGUAGE_NAMES, _, language_menu, normalise_language, parse_yes_no
from bot.roles import AVAILABILITY_NAMES, catalogue_of
from bot.router import Audience, Router
from handlers import callout_admin
from handlers.join import timer_words

LEAVE = "leave"
ROLE_NAMES = {
    "member": _("role.member"),
    "organizer": _("role.organizer"),
    "coordinator": _("role.coordinator"),
    "candidate": _("role.candidate"),
}


async def cmd_help(ctx: Context) -> None:
    lines = [ctx.t(_("help.header"))]
    if ctx.dialog is not None:
        lines += [ctx.t(_("help.back")), ctx.t(_("help.cancel"))]
        ctx.reply_text("\n".join(lines))
        await ctx.router.reprompt(ctx)
        return
    lines += [
        ctx.t(c.summary)
        for c in ctx.router.commands_for(ctx)
        if not c.in_dialog or c.name == "help"
    ]
    ctx.reply_text("\n".join(lines))


async def cmd_cancel(ctx: Context) -> None:
    if ctx.dialog is None and ctx.args and ctx.member is not None:
        await callout_admin.cmd_cancel(ctx)  # CANCEL <id>: a call-out
        return
    if ctx.dialog is None:
        ctx.reply(_("cancel.nothing"))
        return
    await ctx.end_dialog()
    ctx.reply(_("cancel.done") if ctx.member else _("cancel.done_stranger"))


async def cmd_back(ctx: Context) -> None:
    if ctx.dialog is None:
        ctx.reply(_("back.nothing"))
    elif not await ctx.router.back(ctx):
        ctx.reply(_("back.at_start"))
        await ctx.router.reprompt(ctx)


async def cmd_me(ctx: Context) -> None:
    member = ctx.member
    assert member is not None
    ctx.reply(
        _("me.summary"),
        handle=member.handle,
        language=LANGUAGE_NAMES[member.language],
        role=ctx.t(ROLE_NAMES.get(member.role, _("role.member"))),
        joined=format_date(member.joined_at, format="long", locale=member.language),
        timer=timer_words(ctx, member.timer_seconds),
        more="".join("\n" + line for line in await _giving(ctx, member.id)),
    )


async def _giving(ctx: Context, member_id: str) -> list[str]:
    """Roles, skills, times and a pause: ``me`` shows everything the bot holds."""
    repo, language = ctx.repos.roles, ctx.language
    catalogue = await catalogue_of(ctx.settings.roles_file, repo)
    held = await repo.held(member_id)
    names = [
        role.name(language) + (f" ({detail})" if detail else "")
        for key, detail in held.items()
        if (role := catalogue.get(key)) is not None
    ]
    lines = [ctx.t(_("me.roles"), roles=", ".join(names) or ctx.t(_("me.none")))]
    skills = sorted(
        (catalogue.skill_name(s, language) for s in await repo.skills(member_id)), key=str.casefold
    )
    if skills:
        lines.append(ctx.t(_("me.skills"), skills=", ".join(skills)))
    mask = await repo.availability(member_id)
    if mask:
        times = [ctx.t(name) for bit, name in AVAILABILITY_NAMES.items() if mask & bit]
        lines.append(ctx.t(_("me.available"), times=", ".join(times)))
    until = await repo.paused_until(member_id)
    if until is not None and until > ctx.now:
        lines.append(ctx.t(_("me.paused"), until=ctx.format_time(until)))
    return lines


async def cmd_lang(ctx: Context) -> None:
    assert ctx.member is not None
    language = normalise_language(ctx.args) if ctx.args else None
    if language is None:
        ctx.reply(_("lang.choose"), menu=language_menu())
        return
    await ctx.repos.members.set_language(ctx.member.id, language)
    ctx.language_override = language
    ctx.reply(_("lang.set"), language=LANGUAGE_NAMES[language])


async def cmd_leave(ctx: Context) -> None:
    assert ctx.member is not None
    if ctx.member.is_coordinator:
        # their share is part of the k-of-n split: the others must rekey them out first
        ctx.reply(_("leave.coordinator"))
        return
    await ctx.start_dialog(LEAVE, "confirm")
    await ctx.router.reprompt(ctx)


async def ask_leave(ctx: Context) -> None:
    ctx.reply(_("leave.confirm"))


async def answer_leave(ctx: Context) -> None:
    assert ctx.member is not None
    await ctx.end_dialog()
    if parse_yes_no(ctx.text) is not True:
        ctx.reply(_("leave.kept"))
        return
    language = ctx.member.language
    await ctx.repos.members.delete(ctx.member.id)
    ctx.member = None
    ctx.language_override = language
    ctx.reply(_("leave.done"))


async def on_stranger(ctx: Context) -> None:
    ctx.reply(_("stranger.reply"))


async def on_unknown(ctx: Context) -> None:
    ctx.reply(_("unknown.hint"))


async def on_already_member(ctx: Context) -> None:
    ctx.reply(_("join.already_member"))


def register(router: Router) -> None:
    command = router.command
    command("me", "yo", "perfil", audience=Audience.MEMBER, summary=_("help.me"))(cmd_me)
    command("lang", "language", "idioma", audience=Audience.MEMBER, summary=_("help.lang"))(
        cmd_lang
    )
    command("leave", "salir", audience=Audience.MEMBER, summary=_("help.leave"))(cmd_leave)
    command("help", "ayuda", "?", audience=Audience.ANYONE, summary=_("help.help"), in_dialog=True)(
        cmd_help
    )
    command(
        "cancel", "cancelar", audience=Audience.ANYONE, summary=_("help.cancel"), in_dialog=True
    )(cmd_cancel)
    command(
        "back", "atras", "atrás", audience=Audience.ANYONE, summary=_("help.back"), in_dialog=True
    )(cmd_back)
    router.step(LEAVE, "confirm", prompt=ask_leave)(answer_leave)
    router.on_stranger = on_stranger
    router.on_unknown = on_unknown
    router.on_already_member = on_already_member
