"""Members' roles: ROLES (what exists, what I hold), SIGNUP <role>, DROP <role>.

Role words are matched forgivingly (any language, plural, accents, aliases: see
:mod:`bot.roles`), because people type on phones.  A translator says which language
pairs (``signup translator en-es``, or language names: ``inglés-español``); without
readable pairs the role is not taken and the reply shows exactly what to send (an example
that works when sent as is), so nothing half-done is stored.  Skills, times and
pauses are in :mod:`handlers.skills`.
"""

from __future__ import annotations

from bot import covenant
from bot.context import Context
from bot.i18n import _
from bot.roles import Catalogue, RoleDef, catalogue_of, parse_pairs
from bot.router import Audience, Router
from handlers import skills

LIST_MAX = 560  # characters per message of the role list (a phone screen or two)


async def _catalogue(ctx: Context) -> Catalogue:
    return await catalogue_of(ctx.settings.roles_file, ctx.repos.roles)


def _names(ctx: Context, catalogue: Catalogue) -> str:
    return ", ".join(r.name(ctx.language) for r in catalogue.active())


def _split_role(ctx: Context, catalogue: Catalogue) -> tuple[RoleDef | None, str]:
    """The role named at the start of the arguments (longest match), and the rest."""
    words = ctx.args.split()
    for end in range(len(words), 0, -1):
        found = catalogue.find_role(" ".join(words[:end]), include_retired=True)
        if found is not None:
            return found, " ".join(words[end:])
    return None, ctx.args


async def cmd_roles(ctx: Context) -> None:
    assert ctx.member is not None
    catalogue = await _catalogue(ctx)
    held = await ctx.repos.roles.held(ctx.member.id)
    lines = [ctx.t(_("roles.head"))]
    for role in catalogue.active():
        mark = "✅" if role.key in held else "•"
        pairs = f" ({held[role.key]})" if held.get(role.key) else ""
        lines.append(f"{mark} {role.name(ctx.language)}{pairs} — {role.description(ctx.language)}")
    until = await ctx.repos.roles.paused_until(ctx.member.id)
    if until is not None and until > ctx.now:
        lines.append(ctx.t(_("roles.paused"), until=ctx.format_time(until)))
    lines.append(ctx.t(_("roles.next")))
    chunk: list[str] = []
    for line in lines:  # several short messages rather than one a phone cuts off
        if chunk and len("\n".join([*chunk, line])) > LIST_MAX:
            ctx.reply_text("\n".join(chunk))
            chunk = []
        chunk.append(line)
    ctx.reply_text("\n".join(chunk))


async def cmd_signup(ctx: Context) -> None:
    assert ctx.member is not None
    catalogue = await _catalogue(ctx)
    role, rest = _split_role(ctx, catalogue)
    if role is None:
        key = _("roles.signup_usage") if not ctx.args else _("roles.unknown")
        ctx.reply(key, typed=ctx.args[:40], roles=_names(ctx, catalogue))
        return
    name = role.name(ctx.language)
    if role.retired:
        ctx.reply(_("roles.retired"), role=name, roles=_names(ctx, catalogue))
        return
    detail = None
    if role.pairs:
        detail = parse_pairs(rest)
        if detail is None:
            ctx.reply(_("roles.pairs_needed"), role=name, word=ctx.command)
            return
    fresh = await ctx.repos.roles.signup(ctx.member.id, role.key, detail=detail, now=ctx.now)
    await covenant.gave(ctx)
    if detail is not None:
        ctx.reply(_("roles.signed_pairs"), role=name, pairs=detail)
    else:
        ctx.reply(_("roles.signed") if fresh else _("roles.already"), role=name)


async def cmd_drop(ctx: Context) -> None:
    assert ctx.member is not None
    catalogue = await _catalogue(ctx)
    held = await ctx.repos.roles.held(ctx.member.id)
    mine = ", ".join(r.name(ctx.language) for k in held if (r := catalogue.get(k)) is not None)
    role, _rest = _split_role(ctx, catalogue)
    if role is None or role.key not in held:
        if not held:
            ctx.reply(_("roles.none_held"))
        elif not ctx.args:
            ctx.reply(_("roles.drop_usage"), roles=mine)
        else:
            ctx.reply(_("roles.not_held"), typed=ctx.args[:40], roles=mine)
        return
    await ctx.repos.roles.drop(ctx.member.id, role.key)
    ctx.reply(_("roles.dropped"), role=role.name(ctx.language))


def register(router: Router) -> None:
    command = router.command
    command("roles", "funciones", audience=Audience.MEMBER, summary=_("help.roles"))(cmd_roles)
    command("signup", "apuntar", "apuntarme", audience=Audience.MEMBER, summary=_("help.signup"))(
        cmd_signup
    )
    command("drop", "dejar", audience=Audience.MEMBER, summary=_("help.drop"))(cmd_drop)
    skills.register(router)
