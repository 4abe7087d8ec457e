"""Who carries the load in a cell: the concentration figure and the organizers' warning.

Over the last ``concentration_days`` (90), the share of a cell's confirmations (YES to
its call-outs, cancelled ones aside, by the start of the action) taken by its busiest
fifth of members.  Once ``concentration_min`` confirmations (10) make the figure mean
something and the share reaches ``concentration_share`` (60%), the organizers hear it
when an action is over — at most once every 14 days — together with, per role, the
handles of holders who signed up and have not had a turn (handles only, a few each).
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import ROUTINE, Context
from bot.i18n import _, translate
from bot.roles import Catalogue, catalogue_of
from storage.callouts import CalloutView
from storage.load import LoadFigure, figure

NAMED_PER_ROLE = 5  # handles named per role; the rest are a count
MESSAGE_MAX = 600


async def figure_of(ctx: Context, cell_id: str) -> tuple[LoadFigure, set[bytes]]:
    """The cell's load figure now, and the attendee hashes of everyone who had a turn."""
    since = ctx.now - timedelta(days=ctx.settings.concentration_days)
    counts = await ctx.repos.load.confirmations(cell_id, since=since, until=ctx.now)
    people = await ctx.repos.cells.headcount(cell_id)
    return figure(counts.values(), people), set(counts)


def enough(ctx: Context, found: LoadFigure) -> bool:
    """Enough confirmations for the figure to mean something."""
    return found.total >= ctx.settings.concentration_min


def concentrated(ctx: Context, found: LoadFigure) -> bool:
    return enough(ctx, found) and found.share >= ctx.settings.concentration_share


def pack(lines: list[str], limit: int = MESSAGE_MAX) -> list[str]:
    """Lines joined into as few messages as fit a phone screen each."""
    messages: list[str] = []
    for line in lines:
        if messages and len(messages[-1]) + 1 + len(line) <= limit:
            messages[-1] += "\n" + line
        else:
            messages.append(line[:limit])
    return messages


async def on_callout_done(ctx: Context, view: CalloutView) -> None:
    """An action is over: tell organizers if a few people carry most of the load."""
    found, had_turn = await figure_of(ctx, view.cell_id)
    if not concentrated(ctx, found):
        return
    if not await ctx.repos.load.claim_warning(view.cell_id, now=ctx.now):
        return  # told within the last 14 days
    cell = await ctx.repos.cells.by_id(view.cell_id)
    if cell is None:
        return
    waiting = await ctx.repos.load.waiting_holders(view.cell_id, had_turn, now=ctx.now)
    catalogue = await catalogue_of(ctx.settings.roles_file, ctx.repos.roles)
    handles = await _handles(ctx, waiting)
    organizers = await ctx.repos.members.accounts_of(
        await ctx.repos.cells.member_ids(view.cell_id, role="organizer")
    )
    texts: dict[str, list[str]] = {}
    for member, account in organizers.values():
        if member.language not in texts:
            texts[member.language] = _warning(
                ctx, member.language, found, cell.name, waiting, handles, catalogue
            )
        for text in texts[member.language]:
            ctx.queue(account, text, priority=ROUTINE)


async def _handles(ctx: Context, waiting: dict[str, list[str]]) -> dict[str, str]:
    """Handles of the people who will be named (a few per role), each looked up once."""
    named = {m for ids in waiting.values() for m in ids[:NAMED_PER_ROLE]}
    found: dict[str, str] = {}
    for member_id in sorted(named):
        member = await ctx.repos.members.by_id(member_id)
        if member is not None:
            found[member_id] = member.handle
    return found


def _warning(
    ctx: Context,
    language: str,
    found: LoadFigure,
    cell: str,
    waiting: dict[str, list[str]],
    handles: dict[str, str],
    catalogue: Catalogue,
) -> list[str]:
    lines = [
        translate(
            language,
            _("load.warning"),
            days=ctx.settings.concentration_days,
            busiest=found.busiest,
            people=found.people,
            share=found.percent,
            cell=cell,
            total=found.total,
        )
    ]
    for role in catalogue.active():
        ids = waiting.get(role.key, [])
        if not ids:
            continue
        named = [f"@{handles[m]}" for m in ids[:NAMED_PER_ROLE] if m in handles]
        more = len(ids) - len(named)
        lines.append(
            translate(
                language,
                _("load.waiting"),
                role=role.name(language),
                count=len(ids),
                handles=", ".join(named) + (f" +{more}" if more > 0 else ""),
            )
        )
    if len(lines) == 1:
        lines.append(translate(language, _("load.nobody_waiting")))
    lines.append(translate(language, _("load.what_to_do")))
    return pack(lines)
