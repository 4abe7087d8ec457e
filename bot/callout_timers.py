"""Sweep: call-outs: scheduled sends, fan-out, reveal, reminders, nudges, under-fill checks.

Every step is one transaction that enqueues its messages *and* records that it did so
(the fan-out cursor, a person's ``revealed`` flag, ``reminders_done``…), so a crash
between two steps repeats nothing and loses nothing.  The fan-out asks 200 people per
transaction, in member id order after ``expand_cursor``.

Downtime: a reminder, nudge or check whose moment passed while the bot was down runs
once when it returns if the action has not started yet; otherwise it is marked done.
Several missed reminders become one.  The place is sent from the reveal time until the
start, only to people who said yes and were not sent it yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from bot import callout_texts as texts
from bot import load, rotation
from bot.callouts import (
    ALL_CHECKS,
    OPTIONS_SLOT,
    OPTIONS_UNDERFILL,
    SLOT_ASKED,
    STARTED,
    UNDERFILL_ASKED,
    check_time,
    done_time,
    is_due,
    nudge_time,
    prompt_time,
    reminder_times,
    send_to,
)
from bot.context import ROUTINE, URGENT, Context
from bot.i18n import _
from bot.logging import get_logger
from bot.prompts import open_prompt
from bot.when import MAX_REVEAL
from security import Keyring
from storage.callouts import CalloutView
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.timers import Timers

log = get_logger("lantern.callouts")
BATCH = 200
MAX_BATCHES = 50  # per tick, over all call-outs: 10,000 people asked, then the next tick
STEPS_MAX = 8  # reminder, reveal batches, nudge, checks... for one call-out in one tick


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    db = timers.dispatcher.db
    async with db.transaction() as session:
        due = await Repositories(session, keys).callouts.due_to_send(now=now)
    done = 0
    for callout_id in due:
        done += await _run(timers, keys, now, partial(_start, callout_id=callout_id))
    async with db.transaction() as session:
        expanding = await Repositories(session, keys).callouts.expanding()
    budget = MAX_BATCHES
    for callout_id in expanding:
        more = [True]
        while more[0] and budget > 0:
            budget -= 1
            more[0] = False
            done += await _run(
                timers, keys, now, partial(_expand, callout_id=callout_id, more=more)
            )
    settings = timers.dispatcher.settings
    horizon = max(
        *settings.callout_reminders_hours,
        settings.callout_nudge_hours,
        settings.underfill_hours,
        MAX_REVEAL.total_seconds() / 3600,
    )
    async with db.transaction() as session:
        active = await Repositories(session, keys).callouts.active(
            until=now + timedelta(hours=horizon)
        )
    for times in active:
        for _step in range(STEPS_MAX):
            if not is_due(settings, times, now):
                break
            moved = await _run(timers, keys, now, partial(_clock, callout_id=times.id))
            done += moved
            if not moved:
                break
            async with db.transaction() as session:
                found = await Repositories(session, keys).callouts.times_of(times.id)
            if found is None:
                break
            times = found
    return done


async def _run(
    timers: Timers, keys: Keyring, now: datetime, work: Callable[[Context], Awaitable[bool]]
) -> int:
    """One item, one transaction; a failure is logged (no details) and retried next tick."""
    counter = [0]

    async def wrapped(ctx: Context) -> None:
        counter[0] = int(await work(ctx))

    try:
        await timers.in_context(keys, now, wrapped)
    except Exception as exc:
        log.error("callout_step_failed", error_type=type(exc).__name__)
        return 0
    return counter[0]


# --- sending -------------------------------------------------------------------------


async def _start(ctx: Context, *, callout_id: str) -> bool:
    view = await ctx.repos.callouts.by_id(callout_id, lock=True)
    if view is None or view.status != "scheduled" or view.send_at > ctx.now:
        return False
    await ctx.repos.callouts.set_columns(callout_id, now=ctx.now, status="sending")
    return True


async def _expand(ctx: Context, *, callout_id: str, more: list[bool]) -> bool:
    """Ask the next 200 people of the audience: rows, messages and cursor together."""
    repo = ctx.repos.callouts
    view = await repo.by_id(callout_id, lock=True)
    if view is None or view.status != "sending":
        return False
    if view.expand_cursor is None:  # role holders whose turn it is are asked first
        await rotation.start_offers(ctx, view)
    page = await repo.audience_page(
        view.audience, after=view.expand_cursor, limit=BATCH, now=ctx.now
    )
    fresh = await repo.add_members(view.id, page)

    def compose(language: str) -> str:
        return texts.invitation(ctx.settings, language, view)

    await send_to(ctx, fresh, compose, priority=URGENT, batch=view.id, tag=view.id)
    cursor = page[-1] if page else view.expand_cursor
    if len(page) < BATCH:
        await repo.set_columns(view.id, now=ctx.now, status="sent", expand_cursor=cursor)
        log.info("callout_sent", count=await repo.asked_count(view.id))
    else:
        await repo.set_columns(view.id, now=ctx.now, expand_cursor=cursor)
        more[0] = True
    return True


LATE_REVEAL = timedelta(minutes=15)  # the place is still worth sending this late

# --- the clock of a delivered call-out ---------------------------------------------


async def _clock(ctx: Context, *, callout_id: str) -> bool:
    """Whatever is due for one call-out, at most one kind of step per transaction."""
    repo = ctx.repos.callouts
    view = await repo.by_id(callout_id, lock=True)
    if view is None or view.status not in ("sending", "sent"):
        return False
    now = ctx.now
    if now >= done_time(ctx.settings, view.starts_at):
        await repo.set_columns(view.id, now=now, status="done")
        await repo.forget_sent(view.id)
        await load.on_callout_done(ctx, view)
        return True
    if not view.revealed and view.starts_at <= now < view.starts_at + LATE_REVEAL:
        # a reveal at the start itself, or one the bot was down for: people still on
        # their way need the place; it goes before the start closes the answers
        return await _reveal(ctx, view)
    if now >= view.starts_at:
        if view.checks_done & STARTED:
            return False
        # Answers close; whatever did not go out before the start (the bot was down)
        # is skipped, the place included.
        await repo.record_attendance(view.id)
        await repo.set_columns(
            view.id,
            now=now,
            checks_done=view.checks_done | STARTED | ALL_CHECKS,
            reminders_done=len(ctx.settings.callout_reminders_hours),
            nudged=True,
            revealed=True,
        )
        return True
    return (
        await _remind(ctx, view)
        or await _reveal(ctx, view)
        or await _nudge(ctx, view)
        or await _check(ctx, view)
    )


async def _remind(ctx: Context, view: CalloutView) -> bool:
    times = reminder_times(ctx.settings, view.starts_at)
    due = [i for i in range(view.reminders_done, len(times)) if times[i] <= ctx.now]
    if not due:
        return False
    place = ctx.now >= view.reveal_at
    ids = await ctx.repos.callouts.member_ids(view.id, answers=("yes",))

    def compose(language: str) -> str:
        return texts.reminder(ctx.settings, language, view, place=place)

    reached = await send_to(ctx, ids, compose, sensitive=place, priority=ROUTINE)
    if place:
        await ctx.repos.callouts.mark_revealed(view.id, reached)
    await ctx.repos.callouts.set_columns(view.id, now=ctx.now, reminders_done=due[-1] + 1)
    return True


async def _reveal(ctx: Context, view: CalloutView) -> bool:
    if view.revealed or ctx.now < view.reveal_at:
        return False
    repo = ctx.repos.callouts
    ids = await repo.member_ids(view.id, answers=("yes",), unrevealed=True, limit=BATCH)

    def compose(language: str) -> str:
        return texts.place_line(language, view)

    await send_to(ctx, ids, compose, sensitive=True, priority=URGENT)
    await repo.mark_revealed(view.id, ids)  # someone who left meanwhile is done too
    if len(ids) < BATCH:  # later confirmations get the place in their reply
        await repo.set_columns(view.id, now=ctx.now, revealed=True)
    return True


async def _nudge(ctx: Context, view: CalloutView) -> bool:
    moment = nudge_time(ctx.settings, view.starts_at)
    if view.nudged or moment is None or ctx.now < moment:
        return False
    ids = await ctx.repos.callouts.member_ids(view.id, answers=("maybe",))

    def compose(language: str) -> str:
        return texts.nudge(ctx.settings, language, view)

    await send_to(ctx, ids, compose, priority=ROUTINE)
    await ctx.repos.callouts.set_columns(view.id, now=ctx.now, nudged=True)
    return True


async def _check(ctx: Context, view: CalloutView) -> bool:
    moment = check_time(ctx.settings, view.send_at, view.starts_at)
    if view.status != "sent" or moment is None or ctx.now < moment:
        return False
    if view.checks_done & ALL_CHECKS == ALL_CHECKS:
        return False
    repo = ctx.repos.callouts
    occasion = f"{view.id}:{view.starts_at.isoformat()}"
    starts = prompt_time(ctx, view.starts_at)
    if not view.checks_done & UNDERFILL_ASKED:
        yes = (await repo.tally([view.id]))[view.id]["yes"]
        if yes < view.wanted:
            await open_prompt(
                ctx,
                kind="underfill",
                subject_id=view.id,
                occasion=f"underfill:{occasion}",
                question=_("callout.prompt_underfill"),
                values={"ref": view.ref, "yes": yes, "wanted": view.wanted, "starts": starts},
                options=OPTIONS_UNDERFILL,
                default=4,
                deadline=view.starts_at,
            )
    if not view.checks_done & SLOT_ASKED and view.slots:
        taken = await repo.slots_taken(view.id)
        short = [(i, s) for i, s in enumerate(view.slots) if taken.get(i, 0) < s.need]
        if short:
            await open_prompt(
                ctx,
                kind="slot",
                subject_id=view.id,
                occasion=f"slot:{occasion}",
                question=_("callout.prompt_slot"),
                values={
                    "ref": view.ref,
                    "slots": texts.slots_text(view.slots, taken),
                    "starts": starts,
                },
                options=OPTIONS_SLOT,
                default=2,
                deadline=view.starts_at,
            )
    await repo.set_columns(view.id, now=ctx.now, checks_done=view.checks_done | ALL_CHECKS)
    return True
