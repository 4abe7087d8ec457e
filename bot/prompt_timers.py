"""Sweep: escalation prompts (next coordinator, default) and the case triggers.

- A prompt whose step ran out moves to the next coordinator, or gets its default.
- **Stale case**: new or being assessed, unchanged for ``triage_hours``: remind the
  cell's organizers (default) or leave it for another triage period.
- **Stalled campaign**: accepted or active, not paused, no change and no call-out for
  ``stall_days``: next rung of the ladder, a deliberate pause (default), or ask the
  organizers to close it.

Coordinators see a case ref, a cell ref and counts: never the case text, the person or
the place.  Each prompt, and each trigger, is one transaction; triggers look only at
candidates (plain columns, LIMIT) and at most every :data:`TRIGGER_EVERY`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from bot import casework
from bot.context import ROUTINE, Context
from bot.i18n import _, translate
from bot.prompts import on_decision, open_prompt, step_due
from security import Keyring
from storage.repositories import CaseView, Repositories

if TYPE_CHECKING:
    from bot.timers import Timers

STALE = "stale"
STALLED = "stalled"
TRIGGER_EVERY = timedelta(minutes=5)
BATCH = 200
_last_triggers: WeakKeyDictionary[Timers, datetime] = WeakKeyDictionary()


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    async with timers.dispatcher.db.transaction() as session:
        due = await Repositories(session, keys).prompts.due(now=now, limit=BATCH)
    for prompt_id in due:
        await timers.in_context(keys, now, partial(step_due, prompt_id=prompt_id))
    done = len(due)
    last = _last_triggers.get(timers)
    if last is None or not last <= now < last + TRIGGER_EVERY:
        _last_triggers[timers] = now
        done += await _triggers(timers, keys, now)
    return done


async def _triggers(timers: Timers, keys: Keyring, now: datetime) -> int:
    settings = timers.dispatcher.settings
    triage = timedelta(hours=settings.triage_hours)
    stall = timedelta(days=settings.stall_days)
    async with timers.dispatcher.db.transaction() as session:
        cases = Repositories(session, keys).cases
        stale = await cases.waiting(before=now - triage, prompt_kind=STALE, since=now - triage)
        stalled = await cases.stalled(
            before=now - stall, now=now, prompt_kind=STALLED, since=now - stall
        )
    opened = 0
    for case_id, changed_at in stale:
        work = partial(_ask_stale, case_id=case_id, changed_at=changed_at, period=triage)
        opened += await _one(timers, keys, now, work)
    for case_id, last_action in stalled:
        work = partial(_ask_stalled, case_id=case_id, last_action=last_action, period=stall)
        opened += await _one(timers, keys, now, work)
    return opened


async def _one(
    timers: Timers, keys: Keyring, now: datetime, work: Callable[[Context], Awaitable[str | None]]
) -> int:
    opened: list[str] = []

    async def run(ctx: Context) -> None:
        ref = await work(ctx)
        if ref is not None:
            opened.append(ref)

    await timers.in_context(keys, now, run)
    return len(opened)


def _occasion(since: datetime, now: datetime, period: timedelta) -> str:
    """Once per period of waiting: a case still waiting a period later is asked again."""
    return f"{since.isoformat()}#{int((now - since) / period)}"


def _whole(value: float) -> int | float:
    return int(value) if value == int(value) else round(value, 1)


async def _ask_stale(
    ctx: Context, *, case_id: str, changed_at: datetime, period: timedelta
) -> str | None:
    case = await ctx.repos.cases.by_id(case_id)
    cell = None if case is None else await ctx.repos.cells.by_id(case.cell_id)
    if case is None or cell is None or case.status not in ("new", "assessing"):
        return None
    return await open_prompt(
        ctx,
        kind=STALE,
        subject_id=case.id,
        occasion=_occasion(changed_at, ctx.now, period),
        question=_("prompt.stale.question"),
        values={
            "case": case.ref,
            "cell": cell.ref,
            "hours": int((ctx.now - changed_at).total_seconds() // 3600),
            "triage": _whole(ctx.settings.triage_hours),
        },
        options=[_("prompt.stale.remind"), _("prompt.stale.wait")],
        default=1,
    )


async def _ask_stalled(
    ctx: Context, *, case_id: str, last_action: datetime, period: timedelta
) -> str | None:
    case = await ctx.repos.cases.by_id(case_id)
    cell = None if case is None else await ctx.repos.cells.by_id(case.cell_id)
    if case is None or cell is None or case.status not in ("accepted", "active"):
        return None
    return await open_prompt(
        ctx,
        kind=STALLED,
        subject_id=case.id,
        occasion=_occasion(last_action, ctx.now, period),
        question=_("prompt.stalled.question"),
        values={
            "case": case.ref,
            "cell": cell.ref,
            "days": int((ctx.now - last_action).total_seconds() // 86400),
            "rung": case.rung,
            "total": len(case.ladder),
            "stall": _whole(ctx.settings.stall_days),
        },
        options=[_("prompt.stalled.next"), _("prompt.stalled.pause"), _("prompt.stalled.close")],
        default=2,
    )


# --- what the coordinators decided ---------------------------------------------------


async def _organizers(ctx: Context, case: CaseView, message_id: str, **values: object) -> None:
    """The cell's organizers, each in their language (``rung`` translated for each)."""
    rung = values.pop("rung", None)
    for member_id in await ctx.repos.cells.member_ids(case.cell_id, role="organizer"):
        member = await ctx.repos.members.by_id(member_id)
        account = None if member is None else await ctx.repos.members.account_of(member_id)
        if member is None or account is None:
            continue
        if isinstance(rung, str):
            values["rung"] = casework.rung_text(member.language, rung)
        text = translate(member.language, message_id, ref=case.ref, **values)
        ctx.queue(account, text, priority=ROUTINE)


@on_decision(STALE)
async def decide_stale(ctx: Context, case_id: str, choice: int, handle: str | None) -> None:
    case = await ctx.repos.cases.by_id(case_id)
    since = await ctx.repos.cases.changed_at(case_id)
    triage = timedelta(hours=ctx.settings.triage_hours)
    if case is None or since is None or case.status not in ("new", "assessing"):
        return
    if choice != 1 or since > ctx.now - triage:
        return  # left for another triage period, or the organizers acted meanwhile
    hours = int((ctx.now - since).total_seconds() // 3600)
    await _organizers(ctx, case, _("prompt.stale.reminder"), hours=hours)


@on_decision(STALLED)
async def decide_stalled(ctx: Context, case_id: str, choice: int, handle: str | None) -> None:
    case = await ctx.repos.cases.by_id(case_id, lock=True)
    since = await ctx.repos.cases.changed_at(case_id)
    stall = timedelta(days=ctx.settings.stall_days)
    if case is None or since is None or case.status not in ("accepted", "active"):
        return
    if since > ctx.now - stall:
        return  # the organizers acted meanwhile: nothing to decide any more
    if choice == 1 and casework.can_climb(case):
        # The history says "coordinators": which one decided is need-to-know of the
        # council (kept in the prompt), not of the cell's organizers.
        case, rung, step = await casework.climb(ctx, case, who="coordinators")
        await _organizers(
            ctx, case, _("prompt.stalled.climbed"), number=rung, total=len(case.ladder), rung=step
        )
    elif choice == 1:
        await _organizers(ctx, case, _("prompt.stalled.top"))
    elif choice == 2:
        days = ctx.settings.stall_days
        await ctx.repos.cases.set_paused(case.id, ctx.now + timedelta(days=days))
        await _organizers(ctx, case, _("prompt.stalled.paused"), days=_whole(days))
    else:
        await _organizers(ctx, case, _("prompt.stalled.close_ask"))
