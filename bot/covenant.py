"""The participation covenant: those who received solidarity are asked to give it.

When a fight ends (won, lost or settled — a declined case never became a fight), its
subject is invited, warmly and once, to stand with the next person: members are shown
how to sign up for a role, others can answer COUNT ME IN (the cell's organizers then
send them an invitation to join), and everyone can answer NOT NOW, which is kept as a
promise: they are not asked again, not even after a later fight.

The cell sees counts only (COVERAGE): invited, said yes, and gave since — set by
:func:`gave`, which the role sign-up and call-out answers call.
"""

from __future__ import annotations

from bot.casework import tell_organizers
from bot.context import ROUTINE, Context, Outgoing
from bot.i18n import _, translate
from bot.roles import catalogue_of
from storage.cases import CaseView

OPENINGS = {"won": _("covenant.won")}
CLOSED = _("covenant.closed")  # lost or settled: honest thanks, no celebration
EXAMPLE_ROLES = 4  # how many role names a member who said yes is shown


async def on_case_closed(ctx: Context, case: CaseView, outcome: str) -> None:
    """A fight is over: invite its subject, once, to give solidarity in the next.

    The row is written first and the message only if it was new, so closing twice or
    re-running this hook never sends a second invitation."""
    repo = ctx.repos.covenants
    if await repo.said_not_now(case.subject_account):
        return
    fresh = await repo.invite(
        case_id=case.id, cell_id=case.cell_id, account=case.subject_account, now=ctx.now
    )
    if not fresh:
        return
    member = await ctx.repos.members.by_account(case.subject_account)
    language = case.subject_language if member is None else member.language
    how = _("covenant.how_stranger") if member is None else _("covenant.how_member")
    opening = translate(language, OPENINGS.get(outcome, CLOSED), ref=case.ref)
    text = f"{opening}\n\n{translate(language, how)}"
    # after the news of the outcome itself, which goes out as a reply-priority message
    ctx.outgoing.append(Outgoing(case.subject_account, text=text, priority=ROUTINE))


async def gave(ctx: Context) -> None:
    """The sender just signed up for a role or said yes to a call-out: if they were
    once invited by the covenant, it now counts as given.  One indexed UPDATE."""
    await ctx.repos.covenants.gave(ctx.sender, now=ctx.now)


async def answer(ctx: Context, answer: str) -> bool:
    """COUNT ME IN (``yes``) or NOT NOW (``later``) from someone with an open
    invitation; False (nothing done, nothing said) for anyone else, so the caller gives
    the usual fallback and an outsider learns nothing."""
    repo = ctx.repos.covenants
    invitations = await repo.open_for(ctx.sender)
    cases: dict[bytes, CaseView] = {}
    if invitations and ctx.member is None:
        if await ctx.repos.members.is_banned(ctx.sender):
            return False
        # the cases to name to organizers, found by the cases' own subject hash and
        # matched to the invitations by the case hash; a shredded case leaves nobody
        # to tell, so its invitation is no longer open to a non-member
        for case in await ctx.repos.cases.of_subject(ctx.sender):
            cases[repo.case_index(case.id)] = case
        invitations = [i for i in invitations if i.case_bidx in cases]
        if invitations:
            ctx.language_override = cases[invitations[0].case_bidx].subject_language
    if not invitations:
        return False
    await repo.answer(ctx.sender, answer, now=ctx.now)
    if answer == "later":
        ctx.reply(_("covenant.later"))
    elif ctx.member is not None:
        await _show_roles(ctx)
    else:
        for invitation in invitations:
            await _wants_to_join(ctx, cases[invitation.case_bidx])
        ctx.reply(_("covenant.yes_stranger"))
    return True


async def _show_roles(ctx: Context) -> None:
    catalogue = await catalogue_of(ctx.settings.roles_file, ctx.repos.roles)
    names = [role.name(ctx.language) for role in catalogue.active()[:EXAMPLE_ROLES]]
    ctx.reply(_("covenant.yes_member"), roles=", ".join(names), example=names[0] if names else "")


async def _wants_to_join(ctx: Context, case: CaseView) -> None:
    """The cell's organizers already see this case: they learn the person behind it
    wants to join, and how to invite them (a code relayed with REPLY on the case)."""
    cell = await ctx.repos.cells.by_id(case.cell_id)
    if cell is None or cell.retired:
        return
    await tell_organizers(
        ctx,
        case.cell_id,
        _("covenant.wants_to_join"),
        sensitive=True,  # the subject's name is case text
        ref=case.ref,
        name=case.subject_name,
        cell=cell.ref,
    )
