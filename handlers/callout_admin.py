"""An organizer's commands on a call-out of their cell: CANCEL <id>, MOVE <id> <time>,
MSG <id> <text>, STATUS <id>.

Access is checked before anything is decrypted (:func:`bot.policy.organized_callout`);
another cell's real id and a random id get the same reply, built only from what was
typed.  STATUS shows delivery progress, answers, roles and the *handles* of the people
who said yes — never an account.
"""

from __future__ import annotations

from datetime import timedelta

from bot import callout_texts as texts
from bot import callouts
from bot.context import URGENT, Context
from bot.i18n import _, translate
from bot.policy import organized_callout, shown_callout_ref
from bot.router import Audience, Router
from handlers.callout_form import Invalid, read_time
from storage.callouts import LIVE, CalloutView

MSG_MAX = 1000


def not_found(ctx: Context, raw: str) -> None:
    ctx.reply(_("callout.not_found"), ref=shown_callout_ref(raw))


def _split(ctx: Context) -> tuple[str, str]:
    raw, _sep, rest = ctx.args.strip().partition(" ")
    return raw, rest.strip()


async def _mine(ctx: Context, raw: str, usage: str) -> CalloutView | None:
    if not raw:
        ctx.reply(usage)
        return None
    view = await organized_callout(ctx, raw, lock=True)
    if view is None:
        not_found(ctx, raw)
        return None
    if view.status not in LIVE or view.starts_at <= ctx.now:
        ctx.reply(
            _("callout.not_open"), ref=view.ref, status=texts.status_word(ctx.language, view.status)
        )
        return None
    return view


async def cmd_cancel(ctx: Context) -> None:
    """``cancel <id>`` outside a dialog (``cancel`` alone still drops a dialog)."""
    assert ctx.member is not None
    view = await _mine(ctx, _split(ctx)[0], _("callout.admin_usage"))
    if view is None:
        return
    told = await callouts.cancel(ctx, view, who=ctx.member.handle)
    ctx.reply(_("callout.cancel_done"), ref=view.ref, count=told)


async def cmd_move(ctx: Context) -> None:
    assert ctx.member is not None
    raw, rest = _split(ctx)
    view = await _mine(ctx, raw, _("callout.admin_usage"))
    if view is None:
        return
    if not rest:
        ctx.reply(_("callout.move_usage"), ref=view.ref)
        return
    try:
        starts = read_time(ctx, rest)
    except Invalid as problem:
        ctx.reply(problem.message_id, **problem.values)
        return
    if view.status == "scheduled" and view.send_at >= starts:
        ctx.reply(_("callout.send_after_start"), when=ctx.format_time(starts))
        return
    told = await callouts.move(ctx, view, starts, who=ctx.member.handle)
    ctx.reply(
        _("callout.move_done"), ref=view.ref, when=ctx.format_time(starts, texts.LONG), count=told
    )


async def cmd_msg(ctx: Context) -> None:
    raw, text = _split(ctx)
    view = await _mine(ctx, raw, _("callout.admin_usage"))
    if view is None:
        return
    if not text or len(text) > MSG_MAX:
        ctx.reply(_("callout.msg_usage"), ref=view.ref, max=MSG_MAX)
        return
    ids = await ctx.repos.callouts.confirmed_member_ids(view.id)

    def compose(language: str) -> str:
        return translate(language, _("callout.relay"), ref=view.ref, text=text)

    reached = await callouts.send_to(ctx, ids, compose, sensitive=True, priority=URGENT)
    ctx.reply(_("callout.msg_done"), ref=view.ref, count=len(reached))


async def cmd_status(ctx: Context) -> None:
    """``status <id>`` (``status`` alone is the coordinators' network view)."""
    raw = _split(ctx)[0]
    view = await organized_callout(ctx, raw)
    if view is None:
        not_found(ctx, raw)
        return
    ctx.reply_sensitive(await status_text(ctx, view))


async def status_text(ctx: Context, view: CalloutView) -> str:
    repo = ctx.repos.callouts
    progress = await ctx.repos.outbox.progress(view.id)
    waiting = 0
    if view.status in ("scheduled", "sending"):
        waiting = max(
            0, await repo.audience_size(view.audience, ctx.now) - await repo.asked_count(view.id)
        )
    lines = [
        ctx.t(
            _("callout.status_head"),
            ref=view.ref,
            what=view.what,
            when=ctx.format_time(view.starts_at),
            status=texts.status_word(ctx.language, view.status),
        ),
        ctx.t(
            _("callout.status_delivery"),
            sent=progress.sent,
            queued=progress.queued + waiting,
            failed=progress.failed + progress.withheld,
        ),
    ]
    if view.status == "scheduled":
        lines.append(ctx.t(_("callout.status_goes_out"), send=ctx.format_time(view.send_at)))
    elif progress.queued + waiting:
        ahead = await ctx.repos.outbox.backlog(URGENT) + waiting
        seconds = ahead / ctx.settings.send_rate_per_second
        paused = await ctx.repos.outbox.paused_until()
        if paused is not None and paused > ctx.now:
            seconds += (paused - ctx.now).total_seconds()
        eta = ctx.now + timedelta(seconds=seconds)
        minutes = max(1, round(seconds / 60))
        lines.append(ctx.t(_("callout.status_eta"), time=ctx.format_time(eta), minutes=minutes))
    counts = (await repo.tally([view.id]))[view.id]
    lines.append(
        ctx.t(
            _("callout.status_answers"),
            yes=counts["yes"],
            maybe=counts["maybe"],
            no=counts["no"],
            none=counts["none"],
            wanted=view.wanted,
        )
    )
    if view.slots:
        taken = await repo.slots_taken(view.id)
        held = await ctx.repos.rotation.outstanding(view.id)
        slots = texts.slots_text(view.slots, taken, held)
        lines.append(ctx.t(_("callout.status_slots"), slots=slots))
    confirmed = await ctx.repos.members.views_of(await repo.confirmed_member_ids(view.id))
    handles = sorted(member.handle for member in confirmed.values())
    if handles:
        lines.append(ctx.t(_("callout.status_confirmed"), handles=", ".join(handles)))
    else:
        lines.append(ctx.t(_("callout.status_confirmed_none")))
    return "\n".join(lines)


def register(router: Router) -> None:
    router.command("move", "mover", audience=Audience.ORGANIZER, summary=_("help.move"))(cmd_move)
    router.command("msg", "mensaje", audience=Audience.ORGANIZER, summary=_("help.msg"))(cmd_msg)
