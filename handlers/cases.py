"""Reading and talking about cases: CASES, CASE, NOTE, REPLY, KEEP.

Organizers see the cases of the cells they organize, and nothing else: a real id of
another cell's case and a random id get the same answer, which repeats only what was
typed (:mod:`bot.policy`).  The person whose fight it is sees their own cases and talks
with "the organizers of your case" through REPLY; neither side learns the other's
account, and the subject never learns which organizer wrote.
"""

from __future__ import annotations

from babel.dates import format_date

from bot.casework import (
    STATUS_NAMES,
    assessment_line,
    rung_text,
    status_name,
    tell_organizers,
    tell_subject,
)
from bot.context import Context
from bot.i18n import _
from bot.policy import organized_case, own_case, shown_case_ref
from bot.router import Audience, Router
from storage.repositories import CaseEventView, CaseView

NOTE_MAX = 2000
HINTS = {
    "new": _("hint.new"),
    "assessing": _("hint.assessing"),
    "voting": _("hint.voting"),
    "accepted": _("hint.accepted"),
    "active": _("hint.active"),
    "closed": _("hint.closed"),
}


def not_found(ctx: Context, raw: str) -> None:
    ctx.reply(_("case.not_found"), ref=shown_case_ref(raw))


def hint(ctx: Context, case: CaseView) -> str:
    return ctx.t(HINTS.get(case.status, HINTS["closed"]), ref=case.ref)


def split_ref(ctx: Context) -> tuple[str, str]:
    raw, _sep, rest = ctx.args.strip().partition(" ")
    return raw, rest.strip()


async def cmd_cases(ctx: Context) -> None:
    own = await ctx.repos.cases.of_subject(ctx.sender)
    if own and ctx.member is None:
        ctx.language_override = own[0].subject_language  # all we know of a non-member
    lines = [
        ctx.t(_("cases.own_line"), ref=c.ref, status=status_name(ctx.language, c)) for c in own
    ]
    if lines:
        lines.insert(0, ctx.t(_("cases.own_header")))
    if ctx.member is not None and ctx.is_organizer and not ctx.member.quarantined:
        cells = [
            c for c, role in await ctx.repos.cells.cells_of(ctx.member.id) if role == "organizer"
        ]
        refs = {cell.id: cell.ref for cell in cells}
        queue = await ctx.repos.cases.queue(list(refs))
        lines.append(ctx.t(_("cases.queue_header")) if queue else ctx.t(_("cases.queue_empty")))
        lines += [
            ctx.t(
                _("cases.queue_line"),
                ref=c.ref,
                status=status_name(ctx.language, c),
                handle=c.subject_name,
                cell=refs[c.cell_id],
            )
            for c in queue
        ]
    ctx.reply_text("\n".join(lines) if lines else ctx.t(_("cases.none")))


async def cmd_case(ctx: Context) -> None:
    raw, _rest = split_ref(ctx)
    case = await organized_case(ctx, raw)
    if case is None:
        not_found(ctx, raw)
        return
    ctx.reply_sensitive(await details(ctx, case))


async def details(ctx: Context, case: CaseView) -> str:
    cell = await ctx.repos.cells.by_id(case.cell_id)
    a = case.answers
    act = {"yes": _("word.yes"), "no": _("word.no"), "unsure": _("word.unsure")}
    opened = format_date(case.opened_at, "d MMM y", locale=ctx.language)
    lines = [
        ctx.t(
            _("case.header"),
            ref=case.ref,
            status=status_name(ctx.language, case),
            cell=cell.name if cell else "",
            cell_ref=cell.ref if cell else "",
        ),
        ctx.t(_("case.from"), handle=case.subject_name, opened=opened),
        ctx.t(_("field.what"), value=a.get("what", "")),
        ctx.t(_("field.target"), value=a.get("target", "")),
        ctx.t(_("field.site"), value=a.get("site", "")),
        ctx.t(_("field.demand"), value=a.get("demand", "")),
        ctx.t(_("field.others"), value=a.get("others", "")),
        ctx.t(_("field.others_act"), value=ctx.t(act.get(a.get("others_act", ""), "word.unsure"))),
        ctx.t(_("field.contact"), value=a.get("contact", "")),
    ]
    if case.assessment:
        lines.append(ctx.t(_("case.assessment"), summary=assessment_line(ctx, case.assessment)))
    if case.ladder and case.rung:
        rung = rung_text(ctx.language, case.ladder[case.rung - 1])
        lines.append(ctx.t(_("case.rung"), rung=rung, number=case.rung, total=len(case.ladder)))
    history = await ctx.repos.cases.events(case.id, limit=8)
    if history:
        lines.append(ctx.t(_("case.history")))
        lines += [event_line(ctx, e) for e in history]
    lines.append(hint(ctx, case))
    return "\n".join(lines)


def event_line(ctx: Context, event: CaseEventView) -> str:
    when = ctx.format_time(event.at, "d MMM HH:mm")
    who = event.who or "—"
    if event.kind == "status":
        after = ctx.t(STATUS_NAMES[event.after or "new"])
        line = ctx.t(_("event.status"), when=when, who=who, status=after, text=event.text)
        return line.rstrip()
    ids = {
        "note": _("event.note"),
        "to_subject": _("event.to_subject"),
        "from_subject": _("event.from_subject"),
        "assessment": _("event.assessment"),
        "vote": _("event.vote"),
        "rung": _("event.rung"),
    }
    return ctx.t(ids.get(event.kind, _("event.note")), when=when, who=who, text=event.text)


async def cmd_note(ctx: Context) -> None:
    raw, text = split_ref(ctx)
    case = await organized_case(ctx, raw)
    if case is None:
        not_found(ctx, raw)
        return
    if not text or len(text) > NOTE_MAX:
        ctx.reply(_("note.usage"), max=NOTE_MAX)
        return
    assert ctx.member is not None
    await ctx.repos.cases.add_event(case.id, "note", who=ctx.member.handle, now=ctx.now, text=text)
    ctx.reply(_("note.saved"), ref=case.ref)


async def cmd_reply(ctx: Context) -> None:
    raw, text = split_ref(ctx)
    if not raw:
        ctx.reply(_("reply.usage"))
        return
    case = await own_case(ctx, raw)
    if case is not None:
        if ctx.member is None:
            ctx.language_override = case.subject_language
        await _from_subject(ctx, case, text)
        return
    case = await organized_case(ctx, raw)
    if case is None:
        not_found(ctx, raw)
        return
    await _to_subject(ctx, case, text)


async def _from_subject(ctx: Context, case: CaseView, text: str) -> None:
    if not text or len(text) > NOTE_MAX:
        ctx.reply(_("reply.usage"))
        return
    if case.status == "closed":
        ctx.reply(_("reply.closed"), ref=case.ref)
        return
    who = case.subject_name
    await ctx.repos.cases.add_event(case.id, "from_subject", who=who, now=ctx.now, text=text)
    await tell_organizers(
        ctx,
        case.cell_id,
        _("relay.from_subject"),
        sensitive=True,
        ref=case.ref,
        handle=who,
        text=text,
    )
    ctx.reply(_("reply.sent_to_organizers"), ref=case.ref)


async def _to_subject(ctx: Context, case: CaseView, text: str) -> None:
    assert ctx.member is not None
    if not text or len(text) > NOTE_MAX:
        ctx.reply(_("reply.usage"))
        return
    await ctx.repos.cases.add_event(
        case.id, "to_subject", who=ctx.member.handle, now=ctx.now, text=text
    )
    tell_subject(ctx, case, _("relay.to_subject"), text=text)
    ctx.reply(_("reply.sent_to_subject"), ref=case.ref)


async def cmd_keep(ctx: Context) -> None:
    raw, rest = split_ref(ctx)
    case = await organized_case(ctx, raw)
    if case is None:
        not_found(ctx, raw)
        return
    keep = rest.casefold() not in ("off", "no", "release", "soltar")
    await ctx.repos.cases.set_keep(case.id, keep)
    days = ctx.settings.case_retention_days
    ctx.reply(_("keep.on") if keep else _("keep.off"), ref=case.ref, days=days)


def register(router: Router) -> None:
    router.command("cases", "casos", audience=Audience.ANYONE, summary=_("help.cases"))(cmd_cases)
    router.command("case", "caso", audience=Audience.ORGANIZER, summary=_("help.case"))(cmd_case)
    router.command("note", "nota", audience=Audience.ORGANIZER, summary=_("help.note"))(cmd_note)
    router.command("reply", "responder", audience=Audience.ANYONE, summary=_("help.reply"))(
        cmd_reply
    )
    router.command("keep", "guardar", audience=Audience.ORGANIZER, summary=_("help.keep"))(cmd_keep)
