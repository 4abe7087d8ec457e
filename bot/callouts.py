"""Call-outs, in one place: their clock (reveal, reminders, nudge, checks), telling
people, cancelling, moving, widening, and what coordinators decide about them.

```mermaid
stateDiagram-v2
    [*] --> scheduled: YES (send later)
    [*] --> sending: YES (send now)
    scheduled --> sending: send time (sweep)
    sending --> sent: audience fully asked (sweep, 200 per transaction)
    sent --> sending: coordinators widen the call
    scheduled --> cancelled: CANCEL / coordinators
    sending --> cancelled
    sent --> cancelled
    sending --> done: some hours after the start (sweep)
    sent --> done
```

Deadlines are plain columns (``send_at``, ``reveal_at``, ``starts_at``) plus progress
counters (``reminders_done``, ``nudged``, ``checks_done``); :func:`progress_for` sets the
counters so that whatever was already due when a call-out is created or moved counts as
done: nothing fires late, nothing fires twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import callout_texts as texts
from bot.config import Settings
from bot.context import URGENT, Context
from bot.i18n import _, translate
from bot.prompts import on_decision
from storage.callouts import Audience, CalloutTimes, CalloutView

UNDERFILL_ASKED = 1
SLOT_ASKED = 2
STARTED = 4  # attendance recorded; answers closed
ALL_CHECKS = UNDERFILL_ASKED | SLOT_ASKED
POSTPONE = timedelta(hours=24)
OPTIONS_UNDERFILL = [
    _("callout.opt_widen"),
    _("callout.opt_postpone"),
    _("callout.opt_cancel"),
    _("callout.opt_go"),
]
OPTIONS_SLOT = [_("callout.opt_widen_role"), _("callout.opt_go_without"), _("callout.opt_postpone")]


# --- the clock -----------------------------------------------------------------------


def reminder_times(settings: Settings, starts_at: datetime) -> list[datetime]:
    return [starts_at - timedelta(hours=h) for h in settings.callout_reminders_hours]


def nudge_time(settings: Settings, starts_at: datetime) -> datetime | None:
    hours = settings.callout_nudge_hours
    return starts_at - timedelta(hours=hours) if hours else None


def check_time(settings: Settings, send_at: datetime, starts_at: datetime) -> datetime | None:
    """When to look for an under-filled call-out: ``underfill_hours`` before, but never
    before people had half the time between sending and the start to answer."""
    hours = settings.underfill_hours
    if not hours:
        return None
    return max(starts_at - timedelta(hours=hours), send_at + (starts_at - send_at) / 2)


def done_time(settings: Settings, starts_at: datetime) -> datetime:
    """Some hours after the start the action is over (at least one)."""
    return starts_at + timedelta(hours=max(settings.debrief_hours, 1.0))


def is_due(settings: Settings, t: CalloutTimes, now: datetime) -> bool:
    """Whether anything is due for this delivered call-out (plain columns only)."""
    if now >= done_time(settings, t.starts_at):
        return True
    if now >= t.starts_at:
        return not t.checks_done & STARTED
    reveal = not t.revealed and now >= t.reveal_at
    times = reminder_times(settings, t.starts_at)
    nudge = nudge_time(settings, t.starts_at)
    check = check_time(settings, t.send_at, t.starts_at)
    return (
        reveal
        or any(times[i] <= now for i in range(t.reminders_done, len(times)))
        or (not t.nudged and nudge is not None and nudge <= now)
        or (
            t.status == "sent"
            and check is not None
            and check <= now
            and t.checks_done & ALL_CHECKS != ALL_CHECKS
        )
    )


def progress_for(ctx: Context, *, send_at: datetime, starts_at: datetime) -> dict[str, object]:
    """Counters for a call-out (re)timed now: reminders and the nudge whose time is
    already past (or comes before it is even sent) count as done."""
    ref = max(ctx.now, send_at)
    nudge = nudge_time(ctx.settings, starts_at)
    check = check_time(ctx.settings, send_at, starts_at)
    return {
        "reminders_done": sum(1 for t in reminder_times(ctx.settings, starts_at) if t <= ref),
        "nudged": nudge is None or nudge <= ref,
        "checks_done": ALL_CHECKS if check is None or check <= ctx.now else 0,
        "revealed": False,
    }


def wake_for(
    ctx: Context, callout_id: str, *, send_at: datetime, starts_at: datetime, reveal_at: datetime
) -> None:
    """Ask the scheduler to tick at each of this call-out's moments (ids only)."""
    moments = {"send": send_at, "reveal": reveal_at, "start": starts_at}
    settings = ctx.settings
    moments.update({f"r{i}": t for i, t in enumerate(reminder_times(settings, starts_at))})
    if (nudge := nudge_time(settings, starts_at)) is not None:
        moments["nudge"] = nudge
    if (check := check_time(settings, send_at, starts_at)) is not None:
        moments["check"] = check
    moments["done"] = done_time(settings, starts_at)
    for name, moment in moments.items():
        if moment >= ctx.now:
            ctx.wake(f"callout:{callout_id}:{name}", moment)


def prompt_time(ctx: Context, moment: datetime) -> str:
    """Times inside prompt values: one neutral form for every coordinator's language."""
    return moment.astimezone(ZoneInfo(ctx.settings.timezone)).strftime("%Y-%m-%d %H:%M")


# --- telling people ------------------------------------------------------------------


async def send_to(
    ctx: Context,
    member_ids: list[str],
    compose: Callable[[str], str],
    *,
    sensitive: bool = False,
    priority: int = URGENT,
    batch: str | None = None,
    tag: str | None = None,
) -> list[str]:
    """Queue ``compose(language)`` for each member (one lookup for all); the ids reached."""
    found = await ctx.repos.members.accounts_of(member_ids)
    by_language: dict[str, str] = {}
    reached = []
    for member_id in member_ids:
        if member_id not in found:
            continue  # left the network meanwhile
        member, account = found[member_id]
        if member.language not in by_language:
            by_language[member.language] = compose(member.language)
        text = by_language[member.language]
        ctx.queue(account, text, sensitive=sensitive, priority=priority, batch=batch, tag=tag)
        reached.append(member_id)
    return reached


async def tell_answered(ctx: Context, view: CalloutView, message_id: str, **values: object) -> int:
    """Everyone who answered (yes, maybe or no), in their language, with their answer."""
    told = 0
    for answer in ("yes", "maybe", "no"):
        ids = await ctx.repos.callouts.member_ids(view.id, answers=(answer,))

        def compose(language: str, answer: str = answer) -> str:
            return translate(
                language,
                message_id,
                ref=view.ref,
                what=view.what,
                answer=texts.answer_word(language, answer),
                **{k: v(language) if callable(v) else v for k, v in values.items()},
            )

        told += len(await send_to(ctx, ids, compose))
    return told


async def tell_organizers(
    ctx: Context, view: CalloutView, message_id: str, **values: object
) -> None:
    """The organizers of the call-out's cell; a callable value is given the language."""
    ids = await ctx.repos.cells.member_ids(view.cell_id, role="organizer")

    def compose(language: str) -> str:
        filled = {k: v(language) if callable(v) else v for k, v in values.items()}
        return translate(language, message_id, ref=view.ref, **filled)

    await send_to(ctx, ids, compose, priority=URGENT)


# --- changes -------------------------------------------------------------------------


async def cancel(ctx: Context, view: CalloutView, *, who: str) -> int:
    """No reveal, no reminder after this; invitations still queued are withdrawn; everyone
    who answered is told."""
    await ctx.repos.callouts.set_columns(view.id, now=ctx.now, status="cancelled")
    await ctx.repos.outbox.withdraw(view.id, now=ctx.now)
    await ctx.repos.rotation.close_all(view.id)  # no role offer outlives its call-out
    await ctx.repos.callouts.update_body(view.id, who=who, event="cancelled", now=ctx.now)
    return await tell_answered(ctx, view, _("callout.cancelled_notice"))


async def move(ctx: Context, view: CalloutView, starts_at: datetime, *, who: str) -> int:
    """New start; the reveal keeps its distance to it; reminders, nudge and checks are
    re-timed; everyone who answered is told the new time (answers stay)."""
    reveal_at = starts_at - (view.starts_at - view.reveal_at)
    await ctx.repos.callouts.set_columns(
        view.id,
        now=ctx.now,
        starts_at=starts_at,
        reveal_at=reveal_at,
        **progress_for(ctx, send_at=view.send_at, starts_at=starts_at),
    )
    await ctx.repos.callouts.update_body(view.id, who=who, event="moved", now=ctx.now)
    wake_for(ctx, view.id, send_at=view.send_at, starts_at=starts_at, reveal_at=reveal_at)

    def when(language: str) -> str:
        return texts.when_text(ctx.settings, language, starts_at)

    return await tell_answered(ctx, view, _("callout.moved_notice"), when=when)


async def widen(ctx: Context, view: CalloutView, *, who: str) -> None:
    """The whole network is asked; people already asked are skipped (primary key)."""
    await ctx.repos.callouts.update_body(
        view.id, who=who, event="widened", now=ctx.now, audience=Audience(network=True).to_json()
    )
    if view.status in ("sending", "sent"):
        await ctx.repos.callouts.set_columns(
            view.id, now=ctx.now, status="sending", expand_cursor=None
        )
        ctx.wake(f"callout:{view.id}:send", ctx.now)


# --- coordinators' decisions ---------------------------------------------------------


async def _decided(
    ctx: Context, view: CalloutView, options: list[str], choice: int, handle: str | None
) -> None:
    def decision(language: str) -> str:
        return translate(language, options[choice - 1])

    message = _("callout.decided") if handle else _("callout.defaulted")
    await tell_organizers(ctx, view, message, decision=decision, handle=handle or "")


async def _open_view(ctx: Context, callout_id: str) -> CalloutView | None:
    view = await ctx.repos.callouts.by_id(callout_id, lock=True)
    if view is None or view.status not in ("scheduled", "sending", "sent"):
        return None  # cancelled or over meanwhile: nothing left to decide
    return view


@on_decision("underfill")
async def decide_underfill(ctx: Context, callout_id: str, choice: int, handle: str | None) -> None:
    view = await _open_view(ctx, callout_id)
    if view is None:
        return
    who = handle or "default"
    if choice == 1:
        await widen(ctx, view, who=who)
    elif choice == 2:
        await move(ctx, view, view.starts_at + POSTPONE, who=who)
    elif choice == 3:
        await cancel(ctx, view, who=who)
    await _decided(ctx, view, OPTIONS_UNDERFILL, choice, handle)


@on_decision("slot")
async def decide_slot(ctx: Context, callout_id: str, choice: int, handle: str | None) -> None:
    view = await _open_view(ctx, callout_id)
    if view is None:
        return
    who = handle or "default"
    if choice == 1:
        await widen(ctx, view, who=who)
    elif choice == 3:
        await move(ctx, view, view.starts_at + POSTPONE, who=who)
    await _decided(ctx, view, OPTIONS_SLOT, choice, handle)
