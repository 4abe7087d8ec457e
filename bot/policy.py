"""Need-to-know, in one place: who may see or act on which cell.

Handlers ask here instead of checking roles themselves, so the rules in
SECURITY.md ("organizers see only their cells; a real id of another cell and a random
id get the same answer") have exactly one implementation to test.

Every function returns ``None`` for *both* "no such cell" and "not yours": callers then
give one reply for both, built only from what the sender typed.
"""

from __future__ import annotations

from bot.context import Context
from security.codes import looks_like_ref, normalise_case_ref
from storage.callout_answers import AnswerView
from storage.callouts import CalloutView, normalise_callout_ref
from storage.repositories import CaseView, CellView


async def _live_cell(ctx: Context, ref: str) -> CellView | None:
    if not looks_like_ref(ref):
        return None
    cell = await ctx.repos.cells.by_ref(ref)
    if cell is None or cell.retired or cell.kind != "cell":
        return None
    return cell


async def organized_cell(ctx: Context, ref: str) -> CellView | None:
    """A live cell the sender organizes."""
    if ctx.member is None:
        return None
    cell = await _live_cell(ctx, ref)
    if cell is None or await ctx.repos.cells.role_in(ctx.member.id, cell.id) != "organizer":
        return None
    return cell


async def administered_cell(ctx: Context, ref: str) -> CellView | None:
    """A live cell a coordinator may rename, retire or staff with organizers.

    Coordinators create cells and invite their first organizers, but see no member
    lists: only counts.
    """
    if ctx.member is None or not ctx.member.is_coordinator:
        return None
    return await _live_cell(ctx, ref)


async def may_invite(ctx: Context, ref: str, role: str) -> CellView | None:
    """Organizers invite members and organizers into their cells; coordinators invite
    organizers into any live cell."""
    cell = await organized_cell(ctx, ref)
    if cell is not None:
        return cell
    if role == "organizer":
        return await administered_cell(ctx, ref)
    return None


def shown_ref(raw: str) -> str:
    """Echo what the sender typed, tidied, never anything looked up."""
    cleaned = "".join(ch for ch in raw.upper() if ch.isalnum())[:12]
    return cleaned or "?"


def shown_case_ref(raw: str) -> str:
    """A typed case id, tidied for echoing back; never anything looked up."""
    return normalise_case_ref(raw) or shown_ref(raw)


async def organized_case(ctx: Context, raw: str, *, lock: bool = False) -> CaseView | None:
    """A case of a cell the sender organizes.  ``None`` for "no such case" and "another
    cell's case" alike: the caller answers both the same way."""
    return await _case_in_my_cell(ctx, raw, lock=lock, organizer=True)


async def _case_in_my_cell(
    ctx: Context, raw: str, *, lock: bool, organizer: bool
) -> CaseView | None:
    """Membership of the case's cell is checked *before* anything is decrypted."""
    ref = normalise_case_ref(raw)
    if ctx.member is None or ctx.member.quarantined or ref is None:
        return None  # a changed safety number: no case powers until verified in person
    found = await ctx.repos.cases.locate(ref)
    role = None if found is None else await ctx.repos.cells.role_in(ctx.member.id, found[1])
    if found is None or role is None or (organizer and role != "organizer"):
        return None
    return await ctx.repos.cases.by_id(found[0], lock=lock)


async def own_case(ctx: Context, raw: str) -> CaseView | None:
    """A case the sender brought (they need not be a member)."""
    ref = normalise_case_ref(raw)
    if ref is None:
        return None
    return await ctx.repos.cases.of_subject_by_ref(ref, ctx.sender)


async def voting_case(ctx: Context, raw: str, *, lock: bool = False) -> CaseView | None:
    """A case of a cell the sender belongs to (any role): who may vote on it."""
    return await _case_in_my_cell(ctx, raw, lock=lock, organizer=False)


# --- call-outs -----------------------------------------------------------------------


def shown_callout_ref(raw: str) -> str:
    """A typed call-out id, tidied for echoing back; never anything looked up."""
    return normalise_callout_ref(raw) or shown_ref(raw)


async def organized_callout(ctx: Context, raw: str, *, lock: bool = False) -> CalloutView | None:
    """A call-out of a cell the sender organizes; ``None`` for "no such call-out" and
    "another cell's" alike.  The cell is checked before anything is decrypted."""
    ref = normalise_callout_ref(raw)
    if ctx.member is None or ctx.member.quarantined or ref is None:
        return None
    found = await ctx.repos.callouts.locate(ref)
    if found is None or await ctx.repos.cells.role_in(ctx.member.id, found[1]) != "organizer":
        return None
    return await ctx.repos.callouts.by_id(found[0], lock=lock)


async def invited_callout(
    ctx: Context, raw: str, *, lock: bool = False
) -> tuple[CalloutView, AnswerView] | None:
    """A call-out the sender was asked to (and their answer so far); ``None`` for "no
    such call-out", "not sent to you" and "not sent yet" alike.  Checked before
    anything is decrypted."""
    ref = normalise_callout_ref(raw)
    if ctx.member is None or ref is None:
        return None
    found = await ctx.repos.callouts.locate(ref)
    if found is None:
        return None
    answer = await ctx.repos.callouts.answer_row(found[0], ctx.member.id)
    if answer is None:
        return None
    view = await ctx.repos.callouts.by_id(found[0], lock=lock)
    return None if view is None else (view, answer)
