"""The cell decides: VOTE <id> [hours] opens a vote, VOTE <id> yes|no|abstain casts one.

Every member of the case's cell gets one ballot (they may change it until the deadline);
the count is a simple majority of yes over no, abstentions reported but not deciding.
The vote closes at its deadline (:mod:`bot.timers`) or as soon as everyone has voted.
Ballots are stored under a keyed hash of case and member and erased at the count.

What members are told to decide on is what is happening and the demand, never who
brought it, where, or how to reach them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import casework
from bot.casework import may_move, tell_subject
from bot.context import URGENT, Context, Outgoing
from bot.i18n import _
from bot.policy import organized_case, shown_case_ref, voting_case
from bot.router import Audience, Router
from handlers.cases import not_found, split_ref
from handlers.decisions import wrong_status
from storage.repositories import CaseView, MemberView

CHOICE_WORDS = {
    "yes": "yes",
    "y": "yes",
    "si": "yes",
    "sí": "yes",
    "no": "no",
    "n": "no",
    "abstain": "abstain",
    "abstention": "abstain",
    "abstengo": "abstain",
    "abstención": "abstain",
    "abstencion": "abstain",
}
CHOICE_NAMES = {"yes": _("word.yes"), "no": _("word.no"), "abstain": _("word.abstain")}
MAX_HOURS = 24 * 30
PREVIEW = 300


def when(ctx: Context, moment: datetime) -> str:
    return ctx.format_time(moment)


async def cmd_vote(ctx: Context) -> None:
    raw, rest = split_ref(ctx)
    word = rest.casefold().strip(".!")
    if word in CHOICE_WORDS:
        await _cast(ctx, raw, CHOICE_WORDS[word])
    elif not rest or rest.isdigit():
        await _open(ctx, raw, int(rest) if rest else ctx.settings.vote_hours)
    else:
        ctx.reply(_("vote.usage"))


async def _open(ctx: Context, raw: str, hours: int) -> None:
    case = await organized_case(ctx, raw, lock=True)
    if case is None:
        if ctx.is_organizer:
            not_found(ctx, raw)
        else:  # a member typed VOTE <id> without a choice: tell them how to vote
            ctx.reply(_("vote.usage"))
        return
    if not may_move(case.status, "voting"):
        wrong_status(ctx, case)
        return
    if not 1 <= hours <= MAX_HOURS:
        ctx.reply(_("vote.hours_invalid"), max=MAX_HOURS)
        return
    # to the minute: a stored deadline should not say to the second when the vote began
    deadline = (ctx.now + timedelta(hours=hours, minutes=1)).replace(second=0, microsecond=0)
    await ctx.repos.cases.open_vote(case.id, deadline=deadline, now=ctx.now)
    assert ctx.member is not None
    await ctx.repos.cases.add_event(
        case.id, "status", who=ctx.member.handle, now=ctx.now, before=case.status, after="voting"
    )
    tell_subject(ctx, case, _("subject.voting"))
    voters = await ctx.repos.cells.member_ids(case.cell_id)
    for member_id in voters:
        member = await ctx.repos.members.by_id(member_id)
        if member is not None:
            await _call(ctx, member, case, deadline)
    ctx.reply(_("vote.opened"), ref=case.ref, count=len(voters), deadline=when(ctx, deadline))


async def _call(ctx: Context, member: MemberView, case: CaseView, deadline: datetime) -> None:
    """The ballot paper: what and the demand, as typed, nothing about the person."""
    account = await ctx.repos.members.account_of(member.id)
    if account is None:
        return
    saved = ctx.language_override
    ctx.language_override = member.language
    text = ctx.t(
        _("vote.call"),
        ref=case.ref,
        what=case.answers.get("what", "")[:PREVIEW],
        demand=case.answers.get("demand", "")[:PREVIEW],
        deadline=when(ctx, deadline),
    )
    ctx.language_override = saved
    # one of a cell's worth of ballot papers: paced, but ahead of routine reminders
    ctx.outgoing.append(Outgoing(account, text=text, sensitive=True, priority=URGENT))


async def _cast(ctx: Context, raw: str, choice: str) -> None:
    case = await voting_case(ctx, raw, lock=True)
    if case is None:
        ctx.reply(_("vote.not_open"), ref=shown_case_ref(raw))
        return
    if case.status != "voting" or case.vote_deadline is None:
        ctx.reply(_("vote.closed"), ref=case.ref)
        return
    if ctx.now >= case.vote_deadline:
        await casework.close_vote(ctx, case)
        ctx.reply(_("vote.too_late"), ref=case.ref, deadline=when(ctx, case.vote_deadline))
        return
    assert ctx.member is not None
    changed = await ctx.repos.ballots.cast(case.id, ctx.member.id, choice)
    ctx.reply(
        _("vote.changed") if changed else _("vote.recorded"),
        ref=case.ref,
        choice=ctx.t(CHOICE_NAMES[choice]),
        deadline=when(ctx, case.vote_deadline),
    )
    ballots = await ctx.repos.ballots.tally(case.id)
    if sum(ballots.values()) >= await ctx.repos.cells.headcount(case.cell_id):
        await casework.close_vote(ctx, case)


def register(router: Router) -> None:
    router.command("vote", "votar", audience=Audience.MEMBER, summary=_("help.vote"))(cmd_vote)
