"""Cells: create, rename, retire (coordinators); list your own; invite into them.

Every reply about a cell the sender may not act on is the same as for a ref that does
not exist, and repeats only what the sender typed (see :mod:`bot.policy`).
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.i18n import _
from bot.policy import administered_cell, may_invite, organized_cell, shown_ref
from bot.router import Audience, Router
from handlers.members import ROLE_NAMES
from security.codes import new_code

NAME_MAX = 60
INVITE_ROLES = {
    "member": "member",
    "miembro": "member",
    "organizer": "organizer",
    "organizador": "organizer",
    "organizadora": "organizer",
}


def _clean_name(raw: str) -> str | None:
    name = " ".join(raw.split())
    return name if 0 < len(name) <= NAME_MAX else None


async def cmd_cell(ctx: Context) -> None:
    sub, _sep, rest = ctx.args.partition(" ")
    sub = sub.casefold()
    if sub in ("new", "nueva", "nuevo"):
        await _cell_new(ctx, rest)
    elif sub in ("rename", "renombrar"):
        await _cell_rename(ctx, rest)
    elif sub in ("retire", "retirar"):
        await _cell_retire(ctx, rest.strip())
    elif sub in ("intake", "lucha", "luchas"):
        await _cell_intake(ctx, rest.strip())
    elif sub in ("site", "sitio", "unsite", "quitar"):
        await _cell_site(ctx, rest.strip(), remove=sub in ("unsite", "quitar"))
    else:
        ctx.reply(_("cell.usage"))


async def _cell_new(ctx: Context, raw: str) -> None:
    if ctx.member is None or not ctx.member.is_coordinator:
        ctx.reply(_("cell.usage"))
        return
    name = _clean_name(raw)
    if name is None:
        ctx.reply(_("cell.name_invalid"), max=NAME_MAX)
        return
    cell = await ctx.repos.cells.create(name)
    ctx.reply(_("cell.created"), name=cell.name, ref=cell.ref)


async def _cell_rename(ctx: Context, raw: str) -> None:
    ref, _sep, rest = raw.strip().partition(" ")
    name = _clean_name(rest)
    if name is None:
        ctx.reply(_("cell.name_invalid"), max=NAME_MAX)
        return
    cell = await administered_cell(ctx, ref) or await organized_cell(ctx, ref)
    if cell is None:
        ctx.reply(_("cell.not_found"), ref=shown_ref(ref))
        return
    await ctx.repos.cells.rename(cell.id, name)
    ctx.reply(_("cell.renamed"), ref=cell.ref, name=name)


async def _cell_retire(ctx: Context, ref: str) -> None:
    cell = await administered_cell(ctx, ref)
    if cell is None:
        ctx.reply(_("cell.not_found"), ref=shown_ref(ref))
        return
    await ctx.repos.cells.retire(cell.id, now=ctx.now)
    ctx.reply(_("cell.retired"), ref=cell.ref, name=cell.name)


async def _cell_intake(ctx: Context, raw: str) -> None:
    """``cell intake <ref> on <public label>`` / ``cell intake <ref> off``: whether
    people bringing a fight may pick this cell, under a label that is not its name."""
    ref, _sep, rest = raw.partition(" ")
    switch, _sep, label_raw = rest.strip().partition(" ")
    cell = await administered_cell(ctx, ref) or await organized_cell(ctx, ref)
    if cell is None:
        ctx.reply(_("cell.not_found"), ref=shown_ref(ref))
        return
    if switch.casefold() in ("off", "no", "cerrar"):
        await ctx.repos.routing.close(cell.id)
        ctx.reply(_("cell.intake_closed"), ref=cell.ref)
        return
    label = _clean_name(label_raw)
    if switch.casefold() not in ("on", "si", "sí", "abrir") or label is None:
        ctx.reply(_("cell.intake_usage"), max=NAME_MAX)
        return
    await ctx.repos.routing.open(cell.id, label)
    ctx.reply(_("cell.intake_opened"), ref=cell.ref, label=label)


async def _cell_site(ctx: Context, raw: str, *, remove: bool) -> None:
    """Places are kept only as keyed hashes: they route intake, nobody can list them."""
    ref, _sep, place = raw.partition(" ")
    cell = await administered_cell(ctx, ref) or await organized_cell(ctx, ref)
    if cell is None:
        ctx.reply(_("cell.not_found"), ref=shown_ref(ref))
        return
    routing = ctx.repos.routing
    done = await (
        routing.remove_site(cell.id, place) if remove else routing.add_site(cell.id, place)
    )
    if not done:
        ctx.reply(_("cell.site_missing") if remove else _("cell.site_usage"))
        return
    ctx.reply(_("cell.site_removed") if remove else _("cell.site_added"), ref=cell.ref)


async def cmd_cells(ctx: Context) -> None:
    assert ctx.member is not None
    lines = [
        ctx.t(_("cells.line"), ref=cell.ref, name=cell.name, role=ctx.t(ROLE_NAMES[role]))
        for cell, role in await ctx.repos.cells.cells_of(ctx.member.id)
        if not cell.retired
    ]
    if ctx.member.is_coordinator:
        cells, people = await ctx.repos.cells.counts()
        lines.append(ctx.t(_("cells.counts"), cells=cells, people=people))
    ctx.reply_text("\n".join(lines) if lines else ctx.t(_("cells.none")))


async def cmd_invite(ctx: Context) -> None:
    words = ctx.args.split()
    if not words or len(words) > 2:
        ctx.reply(_("invite.usage"))
        return
    role = INVITE_ROLES.get(words[1].casefold()) if len(words) == 2 else "member"
    if role is None:
        ctx.reply(_("invite.usage"))
        return
    cell = await may_invite(ctx, words[0], role)
    if cell is None:
        ctx.reply(_("cell.not_found"), ref=shown_ref(words[0]))
        return
    code = new_code()
    hours = ctx.settings.invite_hours
    await ctx.repos.invites.create(
        code, cell_id=cell.id, role=role, expires_at=ctx.now + timedelta(hours=hours)
    )
    ctx.reply(_("invite.created"), role=ctx.t(ROLE_NAMES[role]), name=cell.name, hours=hours)
    ctx.reply_sensitive(code)


def register(router: Router) -> None:
    router.command(
        "cells", "celulas", "células", audience=Audience.MEMBER, summary=_("help.cells")
    )(cmd_cells)
    router.command("invite", "invitar", audience=Audience.ORGANIZER, summary=_("help.invite"))(
        cmd_invite
    )
    router.command("cell", "celula", "célula", audience=Audience.ORGANIZER, summary=_("help.cell"))(
        cmd_cell
    )
