"""Intake: someone brings a fight, one question at a time, in their language.

```mermaid
stateDiagram-v2
    [*] --> language: INTAKE (not a member)
    [*] --> what: INTAKE (member)
    language --> what
    what --> target
    target --> site
    site --> demand
    demand --> others
    others --> others_act
    others_act --> commit
    commit --> commit: NO (kept; come back when ready)
    commit --> contact: YES
    contact --> name: not a member
    contact --> cell: member, 2+ groups open
    contact --> confirm
    name --> cell: 2+ groups open
    name --> confirm
    cell --> confirm
    confirm --> [*]: YES (case created, organizers told)
```

``BACK`` returns to the previous question that applies, ``CANCEL`` deletes the draft.
The draft is encrypted, survives restarts, and expires after ``intake_draft_hours`` with
one reminder before.  Free text is kept as typed; yes/no and menu answers are re-asked
with a hint when unclear.  A solidarity network is not a service: a case needs the
person's own commitment to take part, so "not yet" keeps the draft and says why.

Which group gets the case is decided without showing it: a person who picks a group
gets that group; otherwise the place they gave is matched against places the groups
cover (keyed hashes), then the open group with the fewest open cases.  The questions
asked never depend on whether a place matched, so nobody can probe which buildings are
organized.
"""

from __future__ import annotations

from datetime import timedelta

from bot.casework import tell_organizers
from bot.config import SUPPORTED_LANGUAGES
from bot.context import Context
from bot.i18n import (
    _,
    language_menu,
    normalise_language,
    parse_three_way,
    parse_yes_no,
    translate,
)
from bot.router import Audience, Router, Step

FLOW = "intake"
TEXT_MAX = 2000
NAME_MAX = 40
MENU_MAX = 9  # groups listed for the person to pick from
FREE_TEXT = {
    "what": _("intake.ask_what"),
    "target": _("intake.ask_target"),
    "site": _("intake.ask_site"),
    "demand": _("intake.ask_demand"),
    "others": _("intake.ask_others"),
    "contact": _("intake.ask_contact"),
}


def _lifetime(settings: object) -> tuple[timedelta, timedelta | None]:
    hours = int(getattr(settings, "intake_draft_hours", 72))
    remind = int(getattr(settings, "intake_reminder_hours", 0))
    return timedelta(hours=hours), timedelta(hours=remind) if remind else None


async def cmd_intake(ctx: Context) -> None:
    if not await ctx.repos.routing.any_open():
        ctx.reply(_("intake.closed"))
        return
    count = len(await ctx.repos.routing.open_ids(limit=MENU_MAX + 1))
    menu = 2 <= count <= MENU_MAX  # more groups than fit a phone screen: the place decides
    data = {"stranger": ctx.member is None, "menu": menu}
    if ctx.member is None:
        ctx.set_timer(ctx.settings.disappearing_timer)
    await ctx.router.start(ctx, FLOW, data)


# --- questions --------------------------------------------------------------------


async def ask_language(ctx: Context) -> None:
    """Asked in every language: we don't know theirs yet."""
    lines = [translate(code, _("intake.ask_language")) for code in SUPPORTED_LANGUAGES]
    ctx.reply_text("\n".join([*lines, language_menu()]))


async def answer_language(ctx: Context) -> None:
    language = normalise_language(ctx.text)
    if language is None:
        ctx.reply(_("join.language_unclear"), menu=language_menu())
        return
    await ctx.update_dialog(language=language)
    await ctx.router.advance(ctx)


def _free_text_step(key: str) -> tuple[Step, Step]:
    async def ask(ctx: Context) -> None:
        assert ctx.dialog is not None
        if key == "what" and not ctx.dialog.data.get("introduced"):
            await ctx.update_dialog(introduced=True)
            ctx.reply(_("intake.intro"))
        ctx.reply(FREE_TEXT[key])

    async def answer(ctx: Context) -> None:
        text = ctx.text.strip()
        if not text:
            ctx.reply(_("intake.empty"))
            ctx.reply(FREE_TEXT[key])
            return
        if len(text) > TEXT_MAX:
            ctx.reply(_("intake.too_long"), max=TEXT_MAX, length=len(text))
            return
        await ctx.update_dialog(**{key: text})
        await ctx.router.advance(ctx)

    return ask, answer


async def ask_others_act(ctx: Context) -> None:
    ctx.reply(_("intake.ask_others_act"))


async def answer_others_act(ctx: Context) -> None:
    choice = parse_three_way(ctx.text)
    if choice is None:
        ctx.reply(_("intake.unclear_three"))
        return
    await ctx.update_dialog(others_act=choice)
    await ctx.router.advance(ctx)


async def ask_commit(ctx: Context) -> None:
    ctx.reply(_("intake.ask_commit"))


async def answer_commit(ctx: Context) -> None:
    assert ctx.dialog is not None
    decision = parse_yes_no(ctx.text)
    if decision is None:
        ctx.reply(_("intake.unclear_yes_no"))
        return
    if not decision:
        when = ctx.format_time(ctx.dialog.expires_at, "d MMM, HH:mm")
        ctx.reply(_("intake.not_yet"), until=when)
        return
    await ctx.update_dialog(commit="yes")
    await ctx.router.advance(ctx)


async def ask_name(ctx: Context) -> None:
    ctx.reply(_("intake.ask_name"))


async def answer_name(ctx: Context) -> None:
    name = " ".join(ctx.text.split())
    if not name or len(name) > NAME_MAX:
        ctx.reply(_("intake.name_invalid"), max=NAME_MAX)
        return
    await ctx.update_dialog(name=name)
    await ctx.router.advance(ctx)


async def ask_cell(ctx: Context) -> None:
    cells = await ctx.repos.routing.open_cells(limit=MENU_MAX)
    menu = "\n".join(f"{i}. {cell.label}" for i, cell in enumerate(cells, start=1))
    await ctx.update_dialog(choices=[cell.id for cell in cells])
    ctx.reply(_("intake.ask_cell"), menu=menu)


async def answer_cell(ctx: Context) -> None:
    assert ctx.dialog is not None
    choices: list[str] = ctx.dialog.data.get("choices", [])
    raw = ctx.text.strip()
    if raw.isdigit() and 0 <= int(raw) <= len(choices):
        await ctx.update_dialog(cell=choices[int(raw) - 1] if int(raw) else "")
        await ctx.router.advance(ctx)
        return
    ctx.reply(_("intake.unclear_number"), high=len(choices))


def _wants_cell_menu(data: dict[str, object]) -> bool:
    return bool(data.get("menu"))


async def ask_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None
    ctx.reply_text(summary(ctx, ctx.dialog.data))
    ctx.reply(_("intake.ask_confirm"))


def summary(ctx: Context, data: dict[str, object]) -> str:
    """Everything as typed, so the person can check it before sending."""
    act = {"yes": _("word.yes"), "no": _("word.no"), "unsure": _("word.unsure")}
    lines = [
        ctx.t(_("intake.summary_header")),
        ctx.t(_("field.what"), value=data.get("what", "")),
        ctx.t(_("field.target"), value=data.get("target", "")),
        ctx.t(_("field.site"), value=data.get("site", "")),
        ctx.t(_("field.demand"), value=data.get("demand", "")),
        ctx.t(_("field.others"), value=data.get("others", "")),
        ctx.t(_("field.others_act"), value=ctx.t(act[str(data.get("others_act", "unsure"))])),
        ctx.t(_("field.contact"), value=data.get("contact", "")),
    ]
    if data.get("name"):
        lines.append(ctx.t(_("field.name"), value=data["name"]))
    return "\n".join(lines)


async def answer_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None
    decision = parse_yes_no(ctx.text)
    if decision is None:
        ctx.reply(_("intake.unclear_yes_no"))
        return
    if not decision:
        ctx.reply(_("intake.not_sent"))
        return
    data = ctx.dialog.data
    cell_id = await _route(ctx, data)
    if cell_id is None:
        ctx.reply(_("intake.no_route"))
        return
    name = ctx.member.handle if ctx.member is not None else str(data["name"])
    answers = {k: str(data.get(k, "")) for k in (*FREE_TEXT, "others_act")}
    case = await ctx.repos.cases.create(
        cell_id,
        subject_account=ctx.sender,
        subject_name=name,
        language=ctx.language,
        answers=answers,
        now=ctx.now,
    )
    await ctx.repos.cases.add_event(case.id, "status", who=name, now=ctx.now, after="new")
    await ctx.end_dialog()
    ctx.language_override = case.subject_language
    ctx.reply(_("intake.done"), ref=case.ref)
    cell = await ctx.repos.cells.by_id(cell_id)
    assert cell is not None
    await tell_organizers(
        ctx,
        cell_id,
        _("case.announce"),
        sensitive=True,
        ref=case.ref,
        handle=name,
        cell=cell.name,
        cell_ref=cell.ref,
    )


async def _route(ctx: Context, data: dict[str, object]) -> str | None:
    """The person's pick, else the place, else the least busy open group."""
    open_ids = await ctx.repos.routing.open_ids()
    picked = str(data.get("cell") or "")
    if picked in open_ids:
        return picked
    matched = await ctx.repos.routing.match(str(data.get("site", "")))
    if matched is not None:
        return matched
    return await ctx.repos.cases.least_busy(open_ids)


def register(router: Router) -> None:
    router.command("intake", "lucha", audience=Audience.ANYONE, summary=_("help.intake"))(
        cmd_intake
    )
    router.flow_lifetime(FLOW, _lifetime)
    router.step(FLOW, "language", prompt=ask_language, applies=lambda d: bool(d["stranger"]))(
        answer_language
    )
    for key in ("what", "target", "site", "demand", "others"):
        ask, answer = _free_text_step(key)
        router.step(FLOW, key, prompt=ask)(answer)
    router.step(FLOW, "others_act", prompt=ask_others_act)(answer_others_act)
    router.step(FLOW, "commit", prompt=ask_commit)(answer_commit)
    ask, answer = _free_text_step("contact")
    router.step(FLOW, "contact", prompt=ask)(answer)
    router.step(FLOW, "name", prompt=ask_name, applies=lambda d: bool(d["stranger"]))(answer_name)
    router.step(FLOW, "cell", prompt=ask_cell, applies=_wants_cell_menu)(answer_cell)
    router.step(FLOW, "confirm", prompt=ask_confirm)(answer_confirm)
