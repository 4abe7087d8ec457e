"""Deciding and climbing: ACCEPT, DECLINE, CLOSE, LADDER, NEXT.

Each command checks the status model in :mod:`bot.casework` and, when the move is not
allowed, says what the case is and what can be done with it now.
"""

from __future__ import annotations

import re

from bot import casework
from bot.casework import may_move, rung_text, status_name, tell_organizers
from bot.context import Context
from bot.i18n import _
from bot.policy import organized_case
from bot.router import Audience, Router
from handlers.cases import NOTE_MAX, hint, not_found, split_ref
from storage.repositories import CaseView

OUTCOME_WORDS = {
    "won": "won",
    "win": "won",
    "ganado": "won",
    "ganada": "won",
    "ganamos": "won",
    "lost": "lost",
    "perdido": "lost",
    "perdida": "lost",
    "settled": "settled",
    "acuerdo": "settled",
    "arreglo": "settled",
}
MAX_AMOUNT = 10**12
_AMOUNT = re.compile(r"^[$€£]?(\d{1,3}(?:[,.]\d{3})+|\d+)(?:[.,]\d{1,2})?[$€£]?$")


def wrong_status(ctx: Context, case: CaseView) -> None:
    ctx.reply(
        _("case.wrong_status"),
        ref=case.ref,
        status=status_name(ctx.language, case),
        hint=hint(ctx, case),
    )


def who(ctx: Context) -> str:
    assert ctx.member is not None
    return ctx.member.handle


async def cmd_accept(ctx: Context) -> None:
    raw, _rest = split_ref(ctx)
    case = await organized_case(ctx, raw, lock=True)
    if case is None:
        not_found(ctx, raw)
        return
    if not may_move(case.status, "accepted") or case.status == "voting":
        wrong_status(ctx, case)
        return
    case = await casework.accept(ctx, case, who=who(ctx))
    await _tell_cell(ctx, case, _("case.accepted_by"))
    ctx.reply(_("accept.done"), ref=case.ref, rung=rung_text(ctx.language, case.ladder[0]))


async def cmd_decline(ctx: Context) -> None:
    raw, reason = split_ref(ctx)
    case = await organized_case(ctx, raw, lock=True)
    if case is None:
        not_found(ctx, raw)
        return
    if not may_move(case.status, "declined"):
        wrong_status(ctx, case)
        return
    if not reason or len(reason) > NOTE_MAX:
        ctx.reply(_("decline.need_reason"), ref=case.ref)
        return
    await casework.move(ctx, case, "declined", who=who(ctx), reason=reason)
    await ctx.repos.outcomes.record_outcome(case.cell_id, "declined", amount=0, now=ctx.now)
    await _tell_cell(ctx, case, _("case.declined_by"))
    ctx.reply(_("decline.done"), ref=case.ref, days=ctx.settings.case_retention_days)


async def cmd_close(ctx: Context) -> None:
    raw, rest = split_ref(ctx)
    word, _sep, note = rest.partition(" ")
    outcome = OUTCOME_WORDS.get(word.casefold())
    case = await organized_case(ctx, raw, lock=True)
    if case is None:
        not_found(ctx, raw)
        return
    if outcome is None:
        ctx.reply(_("close.usage"), ref=case.ref)
        return
    if not may_move(case.status, outcome):
        wrong_status(ctx, case)
        return
    amount, note = parse_amount(note.strip())
    await casework.move(ctx, case, outcome, who=who(ctx), reason=note)
    await ctx.repos.outcomes.record_outcome(case.cell_id, outcome, amount=amount, now=ctx.now)
    await _tell_cell(ctx, case, _("case.closed_by"))
    ctx.reply(_("close.done"), ref=case.ref, days=ctx.settings.case_retention_days)


def parse_amount(note: str) -> tuple[int, str]:
    """``1,200 deposit back`` -> (1200, "deposit back"): the amount won, in whole units,
    is the only number kept once the case is shredded."""
    first, _sep, rest = note.partition(" ")
    found = _AMOUNT.match(first)
    if not found:
        return 0, note
    amount = int(re.sub(r"[,.]", "", found.group(1)))
    if amount > MAX_AMOUNT:
        return 0, note  # not an amount anyone won: kept as text, not summed
    return amount, rest.strip()


async def cmd_ladder(ctx: Context) -> None:
    raw, _rest = split_ref(ctx)
    case = await organized_case(ctx, raw)
    if case is None:
        not_found(ctx, raw)
        return
    if not case.ladder:
        ctx.reply(_("ladder.none"), ref=case.ref, hint=hint(ctx, case))
        return
    lines = [ctx.t(_("ladder.header"), ref=case.ref)]
    for number, rung in enumerate(case.ladder, start=1):
        mark = "✓" if number < case.rung else ("▶" if number == case.rung else "·")
        lines.append(f"{mark} {number}. {rung_text(ctx.language, rung)}")
    lines.append(hint(ctx, case))
    ctx.reply_text("\n".join(lines))


async def cmd_next(ctx: Context) -> None:
    raw, _rest = split_ref(ctx)
    case = await organized_case(ctx, raw, lock=True)
    if case is None:
        not_found(ctx, raw)
        return
    if case.status not in ("accepted", "active"):
        wrong_status(ctx, case)
        return
    if case.rung >= len(case.ladder):
        ctx.reply(_("ladder.top"), ref=case.ref)
        return
    case, rung, step = await casework.climb(ctx, case, who=who(ctx))
    ctx.reply(
        _("next.done"),
        ref=case.ref,
        number=rung,
        total=len(case.ladder),
        rung=rung_text(ctx.language, step),
    )


async def _tell_cell(ctx: Context, case: CaseView, message_id: str) -> None:
    """The other organizers of the cell hear who decided what."""
    assert ctx.member is not None
    await tell_organizers(
        ctx, case.cell_id, message_id, skip=ctx.member.id, ref=case.ref, handle=ctx.member.handle
    )


def register(router: Router) -> None:
    for name, alias, handler, summary in (
        ("accept", "aceptar", cmd_accept, _("help.accept")),
        ("decline", "rechazar", cmd_decline, _("help.decline")),
        ("close", "cerrar", cmd_close, _("help.close")),
        ("ladder", "escalera", cmd_ladder, _("help.ladder")),
        ("next", "siguiente", cmd_next, _("help.next")),
    ):
        router.command(name, alias, audience=Audience.ORGANIZER, summary=summary)(handler)
