"""Organizers' view of role coverage, load and the covenant; the covenant's answers.

COVERAGE [cell] shows, for each cell the sender organizes: how many hold each role and
how many of them are paused, the load figure, and the covenant's counts.  Counts only:
no identity and no handle ever appears here (the load warning is the one place holders
are named, to the same organizers).  Another cell's real ref and a random ref get the
same reply, built only from what was typed (:mod:`bot.policy`).

COUNT ME IN / CUENTA CONMIGO and NOT NOW / AHORA NO are whole-text answers to the
covenant's invitation.  Anyone may send them, since subjects need not be members; whoever
has no open invitation hears exactly what they would for any other text.
"""

from __future__ import annotations

import re

from bot import covenant
from bot.context import Context
from bot.i18n import _
from bot.load import concentrated, enough, figure_of, pack
from bot.policy import organized_cell, shown_ref
from bot.roles import catalogue_of
from bot.router import Audience, Router
from storage.repositories import CellView

YES = re.compile(r"[¡!.\s]*(?:count\s+me\s+in|cu[eé]nta\s+conm[ií]go)[!.\s]*", re.IGNORECASE)
LATER = re.compile(r"[¡!.\s]*(?:not\s+now|[aá]hora\s+n[oó])[!.\s]*", re.IGNORECASE)


async def cmd_coverage(ctx: Context) -> None:
    assert ctx.member is not None
    raw = ctx.args.strip()
    if raw:
        cell = await organized_cell(ctx, raw.split()[0])
        if cell is None:
            ctx.reply(_("cell.not_found"), ref=shown_ref(raw.split()[0]))
            return
        cells = [cell]
    else:
        cells = [
            c
            for c, role in await ctx.repos.cells.cells_of(ctx.member.id)
            if role == "organizer" and not c.retired
        ]
    if not cells:
        ctx.reply(_("coverage.none"))
        return
    for cell in cells:
        for text in pack(await _view(ctx, cell)):
            ctx.reply_text(text)


async def _view(ctx: Context, cell: CellView) -> list[str]:
    people = await ctx.repos.cells.headcount(cell.id)
    lines = [ctx.t(_("coverage.header"), cell=cell.name, ref=cell.ref, people=people)]
    catalogue = await catalogue_of(ctx.settings.roles_file, ctx.repos.roles)
    held = await ctx.repos.roles.coverage(cell.id, now=ctx.now)
    nobody = []
    for role in catalogue.active():
        found = held.get(role.key)
        if found is None or found.holders == 0:
            nobody.append(role.name(ctx.language))
            continue
        lines.append(
            ctx.t(
                _("coverage.role"),
                role=role.name(ctx.language),
                holders=found.holders,
                paused=found.paused,
            )
        )
    if nobody:
        lines.append(ctx.t(_("coverage.nobody"), roles=", ".join(nobody)))
    lines += await _load(ctx, cell)
    counts = await ctx.repos.covenants.counts(cell.id)
    lines.append(
        ctx.t(
            _("coverage.covenant"),
            invited=counts.invited,
            said_yes=counts.said_yes,
            gave=counts.gave,
        )
    )
    return lines


async def _load(ctx: Context, cell: CellView) -> list[str]:
    found, _had_turn = await figure_of(ctx, cell.id)
    days = ctx.settings.concentration_days
    if not enough(ctx, found):
        return [
            ctx.t(
                _("coverage.load_low"),
                days=days,
                total=found.total,
                needed=ctx.settings.concentration_min,
            )
        ]
    lines = [
        ctx.t(
            _("coverage.load"),
            days=days,
            busiest=found.busiest,
            people=found.people,
            share=found.percent,
            total=found.total,
        )
    ]
    if concentrated(ctx, found):
        lines.append(ctx.t(_("coverage.load_heavy")))
    return lines


async def answer_yes(ctx: Context) -> None:
    if not await covenant.answer(ctx, "yes"):
        await ctx.router.fallback(ctx)


async def answer_later(ctx: Context) -> None:
    if not await covenant.answer(ctx, "later"):
        await ctx.router.fallback(ctx)


def register(router: Router) -> None:
    """Commands: coverage; the covenant's answers."""
    router.command(
        "coverage", "cobertura", audience=Audience.ORGANIZER, summary=_("help.coverage")
    )(cmd_coverage)
    router.pattern("covenant-yes", YES, audience=Audience.ANYONE)(answer_yes)
    router.pattern("covenant-later", LATER, audience=Audience.ANYONE)(answer_later)
