"""CALLOUT: an organizer calls people to an action, one question at a time (or in one
line: ``callout <what> | <when> | <where> | <people> | <roles> | <who> | <case> |
<reveal> | <send>``, later parts optional).

```mermaid
stateDiagram-v2
    [*] --> what: CALLOUT
    [*] --> when: CALLOUT <what>
    [*] --> confirm: CALLOUT a | b | c | d …
    what --> when
    when --> where
    where --> people
    people --> slots
    slots --> audience
    audience --> case
    case --> reveal
    reveal --> send
    send --> confirm
    confirm --> [*]: YES (scheduled, or sending: the sweep asks the audience)
```

A bad answer is answered with an example and the question stays; earlier answers are
kept.  ``BACK`` returns to the previous question, ``CANCEL`` drops the draft.  Confirming
does O(1) work: the fan-out happens in the timers, 200 people per transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot import callout_texts as texts
from bot import rotation
from bot.callouts import progress_for, wake_for
from bot.context import Context
from bot.i18n import _, parse_yes_no
from bot.router import Audience, Router, Step
from handlers import callout_admin
from handlers.callout_form import (
    OPTIONAL,
    PARSERS,
    REQUIRED,
    Invalid,
    audience_of,
    describe,
    slots_of,
)

FLOW = "callout"
QUESTIONS = {
    "what": _("callout.ask_what"),
    "when": _("callout.ask_when"),
    "where": _("callout.ask_where"),
    "people": _("callout.ask_people"),
    "slots": _("callout.ask_slots"),
    "audience": _("callout.ask_audience"),
    "case": _("callout.ask_case"),
    "reveal": _("callout.ask_reveal"),
    "send": _("callout.ask_send"),
}


async def _my_cells(ctx: Context) -> list[list[str]]:
    assert ctx.member is not None
    return [
        [cell.id, cell.ref, cell.name]
        for cell, role in await ctx.repos.cells.cells_of(ctx.member.id)
        if role == "organizer" and not cell.retired
    ]


async def cmd_callout(ctx: Context) -> None:
    cells = await _my_cells(ctx)
    if not cells:
        ctx.reply(_("callout.no_cells"))
        return
    data: dict[str, Any] = {"cells": cells}
    if "|" in ctx.args:
        await _one_line(ctx, data)
        return
    await ctx.start_dialog(FLOW, "what", data)
    if ctx.args:
        await _answer(ctx, "what", ctx.args)
        return
    await ctx.router.reprompt(ctx)


async def _one_line(ctx: Context, data: dict[str, Any]) -> None:
    """Every part as if answered in the dialog; the first bad one is asked again."""
    parts = [part.strip() for part in ctx.args.split("|")]
    states = list(PARSERS)
    if len(parts) > len(states):
        ctx.reply(_("callout.oneline_too_many"))
        return
    await ctx.start_dialog(FLOW, "what", data)
    given = {state for state, part in zip(states, parts, strict=False) if part}
    for state in states:
        if state not in given and state in REQUIRED:
            continue
        raw = parts[states.index(state)] if state in given else "-"
        try:
            values = await PARSERS[state](ctx, raw)
        except Invalid as problem:
            await ctx.goto(state)
            ctx.reply(problem.message_id, **problem.values)
            await ctx.router.reprompt(ctx)
            return
        await ctx.update_dialog(**values)
    missing = [s for s in REQUIRED if s not in given]
    await ctx.router.ask(ctx, missing[0] if missing else "confirm")


async def _answer(ctx: Context, state: str, text: str) -> None:
    try:
        values = await PARSERS[state](ctx, text)
    except Invalid as problem:
        ctx.reply(problem.message_id, **problem.values)
        return
    await ctx.update_dialog(**values)
    if state == "when":
        starts = datetime.fromisoformat(values["starts"])
        ctx.reply(_("callout.when_ok"), when=ctx.format_time(starts, texts.LONG))
    await ctx.router.advance(ctx)


def _step(state: str) -> tuple[Step, Step]:
    async def ask(ctx: Context) -> None:
        values: dict[str, object] = {}
        if state == "when":
            values["zone"] = ctx.settings.timezone
        elif state == "audience":
            assert ctx.dialog is not None
            cells = ctx.dialog.data["cells"]
            values["menu"] = "\n".join(
                f"{i}. {name} ({ref})" for i, (_id, ref, name) in enumerate(cells, start=1)
            )
        elif state == "reveal":
            values["hours"] = f"{ctx.settings.reveal_hours:g}"
        ctx.reply(QUESTIONS[state], **values)

    async def answer(ctx: Context) -> None:
        await _answer(ctx, state, ctx.text)

    return ask, answer


async def ask_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None
    ctx.reply_text(await describe(ctx, ctx.dialog.data))
    ctx.reply(_("callout.ask_confirm"))


async def answer_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None and ctx.member is not None
    decision = parse_yes_no(ctx.text)
    if decision is None:
        ctx.reply(_("callout.unclear_confirm"))
        return
    if not decision:
        ctx.reply(_("callout.not_sent"))
        return
    data = ctx.dialog.data
    starts = datetime.fromisoformat(data["starts"])
    send_at = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
    if starts <= ctx.now:
        ctx.reply(_("callout.stale"))
        await ctx.router.ask(ctx, "when")
        return
    mine = {cell_id for cell_id, _ref, _name in await _my_cells(ctx)}
    audience = audience_of(data)
    cells = [c for c in audience.cells if c in mine]
    if not cells:
        await ctx.end_dialog()
        ctx.reply(_("callout.no_cells"))
        return
    send = send_at if send_at is not None and send_at > ctx.now else ctx.now
    reveal_at = starts - timedelta(minutes=int(data["reveal_minutes"]))
    audience = replace(audience, cells=tuple(cells))
    view = await ctx.repos.callouts.create(
        cells[0],
        what=data["what"],
        where=data["where"],
        wanted=int(data["wanted"]),
        slots=await rotation.with_roles(ctx, slots_of(data)),
        audience=audience,
        starts_at=starts,
        reveal_at=reveal_at,
        send_at=send,
        status="sending" if send <= ctx.now else "scheduled",
        created_by=ctx.member.handle,
        now=ctx.now,
        case_id=data.get("case"),
        case_ref=data.get("case_ref"),
        rung=str(data.get("rung") or ""),
    )
    await ctx.repos.callouts.set_columns(
        view.id, now=ctx.now, **progress_for(ctx, send_at=send, starts_at=starts)
    )
    wake_for(ctx, view.id, send_at=send, starts_at=starts, reveal_at=reveal_at)
    await ctx.end_dialog()
    count = await ctx.repos.callouts.audience_size(audience, ctx.now)
    if view.status == "sending":
        ctx.reply(_("callout.created"), ref=view.ref, count=count)
    else:
        ctx.reply(_("callout.scheduled"), ref=view.ref, count=count, send=ctx.format_time(send))


def register(router: Router) -> None:
    router.command("callout", "convocar", audience=Audience.ORGANIZER, summary=_("help.callout"))(
        cmd_callout
    )
    for state in PARSERS:
        ask, answer = _step(state)
        router.step(FLOW, state, prompt=ask)(answer)
    router.step(FLOW, "confirm", prompt=ask_confirm)(answer_confirm)
    callout_admin.register(router)
    assert set(OPTIONAL) | set(REQUIRED) == set(PARSERS)
