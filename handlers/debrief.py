"""DEBRIEF <id> (BALANCE): how an action went, a few questions after it.

```mermaid
stateDiagram-v2
    [*] --> turnout: DEBRIEF <id> (organizer of the cell)
    [*] --> won: DEBRIEF <id> (confirmed member)
    turnout --> won
    won --> skills
    skills --> leaders
    leaders --> wellbeing
    wellbeing --> confirm: summary
    confirm --> [*]: YES (stored encrypted; organizers told)
```

BACK and CANCEL work in every state.  Only the organizers of the call-out's cell and
the people who confirmed it may debrief it; that is checked on keyed hashes before
anything is decrypted, and anyone else gets the same reply as for an id that does not
exist.  ``DEBRIEF <id> SHOW`` lets the organizers read what came in (handles, never
accounts).  A second debrief by the same person replaces their first.
"""

from __future__ import annotations

from bot.context import ROUTINE, Context
from bot.i18n import _, parse_yes_no, translate
from bot.policy import shown_ref
from bot.router import Audience, Router, Step
from storage.callouts import normalise_callout_ref
from storage.debriefs import DebriefView

FLOW = "debrief"
TEXT_MAX = 1000
TURNOUT_MAX = 1_000_000
SHOW_WORDS = frozenset({"show", "read", "ver", "leer", "mostrar"})
FIELDS = {
    "won": (_("debrief.ask_won"), _("debrief.field_won")),
    "skills": (_("debrief.ask_skills"), _("debrief.field_skills")),
    "leaders": (_("debrief.ask_leaders"), _("debrief.field_leaders")),
    "wellbeing": (_("debrief.ask_wellbeing"), _("debrief.field_wellbeing")),
}


async def reachable(ctx: Context, raw: str) -> tuple[str, str, bool] | None:
    """(call-out id, cell id, is organizer) if the sender may debrief this call-out:
    an organizer of its cell or someone who confirmed.  Checked on keyed hashes only."""
    ref = normalise_callout_ref(raw)
    if ctx.member is None or ctx.member.quarantined or ref is None:
        return None
    found = await ctx.repos.callouts.locate(ref)
    if found is None:
        return None
    callout_id, cell_id = found
    if await ctx.repos.cells.role_in(ctx.member.id, cell_id) == "organizer":
        return callout_id, cell_id, True
    if await ctx.repos.callouts.answer_of(callout_id, ctx.member.id) == "yes":
        return callout_id, cell_id, False
    return None


def not_found(ctx: Context, raw: str) -> None:
    ctx.reply(_("debrief.not_found"), ref=shown_ref(raw))


async def cmd_debrief(ctx: Context) -> None:
    raw, _sep, rest = ctx.args.strip().partition(" ")
    if not raw:
        ctx.reply(_("debrief.usage"))
        return
    found = await reachable(ctx, raw)
    callout = None if found is None else await ctx.repos.callouts.view(found[0])
    if found is None or callout is None:
        not_found(ctx, raw)
        return
    organizer = found[2]
    if rest.strip().casefold() in SHOW_WORDS:
        if organizer:
            await show(ctx, callout.id, callout.ref, callout.what)
        else:
            ctx.reply(_("debrief.show_organizers"), ref=callout.ref)
        return
    if callout.status == "cancelled":
        ctx.reply(_("debrief.cancelled"), ref=callout.ref)
        return
    if callout.status not in ("sent", "done") or callout.starts_at > ctx.now:
        ctx.reply(_("debrief.not_yet"), ref=callout.ref)
        return
    ctx.reply(_("debrief.intro"), ref=callout.ref, count=len(FIELDS) + int(organizer))
    await ctx.router.start(ctx, FLOW, {"ref": callout.ref, "organizer": organizer})


# --- questions --------------------------------------------------------------------


async def ask_turnout(ctx: Context) -> None:
    ctx.reply(_("debrief.ask_turnout"))


async def answer_turnout(ctx: Context) -> None:
    raw = ctx.text.strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) > TURNOUT_MAX:
        ctx.reply(_("debrief.bad_turnout"))
        return
    await ctx.update_dialog(turnout=int(raw))
    await ctx.router.advance(ctx)


def _text_step(key: str) -> tuple[Step, Step]:
    question = FIELDS[key][0]

    async def ask(ctx: Context) -> None:
        ctx.reply(question)

    async def answer(ctx: Context) -> None:
        text = ctx.text.strip()
        if not text:
            ctx.reply(_("debrief.empty"))
            return
        if len(text) > TEXT_MAX:
            ctx.reply(_("intake.too_long"), max=TEXT_MAX, length=len(text))
            return
        await ctx.update_dialog(**{key: text})
        await ctx.router.advance(ctx)

    return ask, answer


def field_lines(ctx: Context, values: dict[str, object]) -> list[str]:
    lines = []
    if values.get("turnout") is not None:
        lines.append(ctx.t(_("debrief.field_turnout"), value=values["turnout"]))
    for key, (_question, label) in FIELDS.items():
        lines.append(ctx.t(label, value=values.get(key, "")))
    return lines


async def ask_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None
    data = ctx.dialog.data
    header = ctx.t(_("debrief.summary_header"), ref=data["ref"])
    ctx.reply_text("\n".join([header, *field_lines(ctx, data)]))
    ctx.reply(_("debrief.ask_confirm"))


async def answer_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None and ctx.member is not None
    decision = parse_yes_no(ctx.text)
    if not decision:
        ctx.reply(_("debrief.not_saved"))
        return
    data = ctx.dialog.data
    await ctx.end_dialog()
    found = await reachable(ctx, str(data["ref"]))  # still theirs to debrief?
    if found is None:
        not_found(ctx, str(data["ref"]))
        return
    callout_id, cell_id, organizer = found
    answers: dict[str, object] = {key: str(data.get(key, "")) for key in FIELDS}
    answers["turnout"] = data.get("turnout") if organizer else None
    replaced = await ctx.repos.debriefs.add(
        callout_id,
        author_id=ctx.member.id,
        handle=ctx.member.handle,
        organizer=organizer,
        answers=answers,
        now=ctx.now,
    )
    if replaced is None:
        not_found(ctx, str(data["ref"]))
        return
    ctx.reply(_("debrief.replaced") if replaced else _("debrief.saved"), ref=data["ref"])
    others = [
        m for m in await ctx.repos.cells.member_ids(cell_id, role="organizer") if m != ctx.member.id
    ]
    for member, account in (await ctx.repos.members.accounts_of(others)).values():
        text = translate(
            member.language, _("debrief.received"), ref=data["ref"], handle=ctx.member.handle
        )
        ctx.queue(account, text, priority=ROUTINE)


# --- reading ----------------------------------------------------------------------


async def show(ctx: Context, callout_id: str, ref: str, what: str) -> None:
    debriefs = await ctx.repos.debriefs.of_callout(callout_id)
    if not debriefs:
        ctx.reply(_("debrief.none_yet"), ref=ref)
        return
    total = await ctx.repos.debriefs.count(callout_id)
    lines = [ctx.t(_("debrief.show_header"), ref=ref, what=what, count=total)]
    for item in debriefs:
        lines += ["", _item_line(ctx, item), *field_lines(ctx, _values(item))]
    ctx.reply_text("\n".join(lines))


def _item_line(ctx: Context, item: DebriefView) -> str:
    who = ctx.t(_("debrief.who_organizer") if item.organizer else _("debrief.who_attendee"))
    return ctx.t(_("debrief.show_item"), handle=item.handle, who=who, date=ctx.format_time(item.at))


def _values(item: DebriefView) -> dict[str, object]:
    return {
        "turnout": item.turnout,
        "won": item.won,
        "skills": item.skills,
        "leaders": item.leaders,
        "wellbeing": item.wellbeing,
    }


def register(router: Router) -> None:
    router.command("debrief", "balance", audience=Audience.MEMBER, summary=_("help.debrief"))(
        cmd_debrief
    )
    router.step(FLOW, "turnout", prompt=ask_turnout, applies=lambda d: bool(d["organizer"]))(
        answer_turnout
    )
    for key in FIELDS:
        ask, answer = _text_step(key)
        router.step(FLOW, key, prompt=ask)(answer)
    router.step(FLOW, "confirm", prompt=ask_confirm)(answer_confirm)
