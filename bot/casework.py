"""The life of a case, in one place: which status may follow which, who hears about it,
how a vote is counted, how the escalation ladder reads.

```mermaid
stateDiagram-v2
    [*] --> new: intake confirmed
    new --> assessing: ASSESS done
    new --> declined: DECLINE
    assessing --> voting: VOTE
    assessing --> accepted: ACCEPT
    assessing --> declined: DECLINE
    voting --> accepted: vote passed
    voting --> assessing: tie / not passed
    accepted --> active: NEXT (first rung)
    active --> won: CLOSE won
    active --> lost: CLOSE lost
    active --> settled: CLOSE settled
    won --> closed
    lost --> closed
    settled --> closed
    declined --> closed
    closed --> [*]: shredded after retention (unless kept)
```

Every change is recorded in the case's encrypted history with the handle of whoever made
it, and the person whose fight it is hears about it in their language.
"""

from __future__ import annotations

from collections import Counter

from bot.context import Context, Outgoing
from bot.i18n import _, translate
from storage.repositories import CaseView

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assessing", "declined"}),
    "assessing": frozenset({"voting", "accepted", "declined"}),
    "voting": frozenset({"accepted", "assessing"}),
    "accepted": frozenset({"active"}),
    "declined": frozenset({"closed"}),
    "active": frozenset({"won", "lost", "settled"}),
    "won": frozenset({"closed"}),
    "lost": frozenset({"closed"}),
    "settled": frozenset({"closed"}),
    "closed": frozenset(),
}
OUTCOMES = ("won", "lost", "settled")
CHOICES = ("yes", "no", "abstain")
STATUS_NAMES = {
    "new": _("status.new"),
    "assessing": _("status.assessing"),
    "voting": _("status.voting"),
    "accepted": _("status.accepted"),
    "declined": _("status.declined"),
    "active": _("status.active"),
    "won": _("status.won"),
    "lost": _("status.lost"),
    "settled": _("status.settled"),
    "closed": _("status.closed"),
}
SUBJECT_NEWS = {
    "assessing": _("subject.assessing"),
    "voting": _("subject.voting"),
    "accepted": _("subject.accepted"),
    "declined": _("subject.declined"),
    "active": _("subject.active"),
    "won": _("subject.won"),
    "lost": _("subject.lost"),
    "settled": _("subject.settled"),
}
CRITERIA = (
    ("attainable", _("assess.attainable")),
    ("leverage", _("assess.leverage")),
    ("committed", _("assess.committed")),
    ("others", _("assess.others")),
    ("capacity", _("assess.capacity")),
)
KNOWN_RUNGS = {
    "letter": _("ladder.letter"),
    "zap": _("ladder.zap"),
    "picket": _("ladder.picket"),
    "escalate": _("ladder.escalate"),
    "press": _("ladder.press"),
    "occupation": _("ladder.occupation"),
}


def may_move(before: str, after: str) -> bool:
    return after in TRANSITIONS.get(before, frozenset())


def status_name(language: str, case: CaseView) -> str:
    """``closed (won)`` rather than a bare ``closed``: the outcome is what people ask."""
    name = translate(language, STATUS_NAMES[case.status])
    if case.status == "closed" and case.outcome:
        return f"{name} ({translate(language, STATUS_NAMES[case.outcome])})"
    return name


def rung_text(language: str, rung: str) -> str:
    known = KNOWN_RUNGS.get(rung.casefold())
    return translate(language, known) if known else rung


def assessment_line(ctx: Context, assessment: dict[str, str]) -> str:
    marks = {"yes": "✓", "no": "✗", "unsure": "?"}
    parts = [f"{marks.get(assessment.get(k, ''), '?')} {ctx.t(label)}" for k, label in CRITERIA]
    comment = assessment.get("comment", "")
    return " · ".join(parts) + (f" — {comment}" if comment else "")


def count(ballots: Counter[str]) -> str:
    """``passed``, ``failed`` or ``tie``: a simple majority of yes over no; abstentions
    are counted and reported but decide nothing; no ballots at all is a tie."""
    yes, no = ballots.get("yes", 0), ballots.get("no", 0)
    if yes > no:
        return "passed"
    return "failed" if no > yes else "tie"


async def move(ctx: Context, case: CaseView, after: str, *, who: str, reason: str = "") -> CaseView:
    """Change status (the caller has checked :func:`may_move`), record it, tell the
    subject.  Reaching ``won``/``lost``/``settled``/``declined`` also closes the case."""
    repos = ctx.repos
    await repos.cases.set_status(case.id, after, now=ctx.now)
    await repos.cases.add_event(
        case.id, "status", who=who, now=ctx.now, before=case.status, after=after, text=reason
    )
    tell_subject(ctx, case, SUBJECT_NEWS.get(after), reason=reason)
    if after in (*OUTCOMES, "declined"):
        await repos.cases.set_status(case.id, "closed", now=ctx.now, outcome=after)
        await repos.cases.add_event(
            case.id, "status", who=who, now=ctx.now, before=after, after="closed"
        )
    if after in OUTCOMES:
        from bot import covenant  # late: covenant builds on casework

        await covenant.on_case_closed(ctx, case, after)
    found = await repos.cases.by_id(case.id)
    assert found is not None
    return found


def can_climb(case: CaseView) -> bool:
    """A campaign (accepted or active) with a rung of its ladder left to climb."""
    return case.status in ("accepted", "active") and case.rung < len(case.ladder)


async def climb(ctx: Context, case: CaseView, *, who: str) -> tuple[CaseView, int, str]:
    """The next rung of the ladder (the caller checked :func:`can_climb`): an accepted
    case becomes active, the rung is recorded and the subject told.  Returns the case,
    the rung's number and its ladder entry."""
    if case.status == "accepted":
        case = await move(ctx, case, "active", who=who)
    rung = case.rung + 1
    await ctx.repos.cases.set_rung(case.id, rung, now=ctx.now)
    step = case.ladder[rung - 1]
    await ctx.repos.cases.add_event(case.id, "rung", who=who, now=ctx.now, text=step)
    tell_subject(ctx, case, _("subject.rung"), rung=rung_text(case.subject_language, step))
    return case, rung, step


def tell_subject(ctx: Context, case: CaseView, message_id: str | None, **values: object) -> None:
    """The person whose fight it is, in their language, by the account kept in the case
    (they need not be a member).  Never names an organizer."""
    if message_id is None:
        return
    text = translate(case.subject_language, message_id, ref=case.ref, **values)
    ctx.outgoing.append(Outgoing(case.subject_account, text=text))


async def tell_organizers(
    ctx: Context,
    cell_id: str,
    message_id: str,
    /,
    *,
    skip: str | None = None,
    sensitive: bool = False,
    **values: object,
) -> None:
    """Every organizer of the cell except ``skip`` (a member id: the one acting).
    ``sensitive`` (case text) is withheld from an organizer whose phone changed."""
    for member_id in await ctx.repos.cells.member_ids(cell_id, role="organizer"):
        if member_id == skip:
            continue
        member = await ctx.repos.members.by_id(member_id)
        if member is not None:
            if sensitive:
                await ctx.tell_sensitive(member, message_id, **values)
            else:
                await ctx.tell(member, message_id, **values)


async def accept(ctx: Context, case: CaseView, *, who: str) -> CaseView:
    """Accepted cases get their own copy of the network's ladder: changing the template
    later does not rewrite fights already under way."""
    await ctx.repos.cases.update_body(case.id, ladder=list(ctx.settings.ladder))
    return await move(ctx, case, "accepted", who=who)


async def close_vote(ctx: Context, case: CaseView) -> str:
    """Count, erase the ballots, record and announce the result; move the case on."""
    repos = ctx.repos
    ballots = await repos.ballots.tally(case.id)
    await repos.ballots.clear_votes(case.id)
    result = count(ballots)
    numbers = {k: ballots.get(k, 0) for k in CHOICES}
    await repos.cases.add_event(
        case.id,
        "vote",
        who="",
        now=ctx.now,
        text=f"yes {numbers['yes']} · no {numbers['no']} · abstain {numbers['abstain']} ({result})",
        after=result,
    )
    if result == "passed":
        await accept(ctx, case, who="vote")
    else:
        await move(ctx, case, "assessing", who="vote")
    message = {
        "passed": _("vote.result_passed"),
        "failed": _("vote.result_failed"),
        "tie": _("vote.result_tie"),
    }[result]
    for member_id in await repos.cells.member_ids(case.cell_id):
        member = await repos.members.by_id(member_id)
        if member is not None:
            await ctx.announce(member, message, ref=case.ref, **numbers)
    return result
