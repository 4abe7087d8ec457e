"""Fair rotation: a call-out's role slots go first to the role's holders whose turn it is.

**Who, in what order.**  For a slot whose name matched a catalogue role, the candidates
are the role's holders whom the call-out asks (its cells and filters), who are not
paused, not quarantined, free at the action's local time (their SKILLS times), have not
said NO to it, hold no slot of it yet and were not offered this slot before.  They are
ordered by *who served least recently*: never first, then the (network-local) day of the
last action they said yes to, oldest first (any role: the load is the confrontation, not
the job title; a YES to this very call-out is no turn, one to another action still to
come sorts after every past turn), then fewer actions in the last
``concentration_days``, then a keyed hash (stable, not guessable).  The work is one
query for the holders and one for their history: it follows the number of holders, not
the size of the network.

**Offers.**  When the call-out starts going out, each role slot with free places is
offered to as many candidates as it has places; each offer is held for
``rotation_offer_hours``, never so long that the chain cannot move before the action.
The offer *is* the person's invitation (one message, with the call-out and how to
answer).  Held places are kept from others: someone not offered may take the role only
if places remain beyond those held (their YES is kept either way).  PASS, NO, an offer
running out, or a taken place given back moves it to the next candidate at once.

**Widening.**  When no candidate is left and places are still free, the slot is open to
everyone asked: the people who said YES or MAYBE without a role are told, and so are the
cell's organizers, once per slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import callout_texts as texts
from bot.callouts import send_to, tell_organizers
from bot.context import URGENT, Context
from bot.i18n import _, translate
from bot.roles import available, catalogue_of
from storage.callouts import CalloutView, Slot
from storage.rotation import PASSED, TAKEN, Served

MIN_OFFER = timedelta(minutes=15)  # an offer shorter than this is no real chance


@dataclass(frozen=True)
class Candidate:
    member_id: str
    served: Served


async def with_roles(ctx: Context, slots: list[Slot]) -> list[Slot]:
    """The organizer's slot names matched to catalogue roles ("2 drivers" -> driver)."""
    catalogue = await catalogue_of(ctx.settings.roles_file, ctx.repos.roles)
    found = []
    for slot in slots:
        role = catalogue.find_role(slot.name)
        found.append(Slot(slot.name, slot.need, None if role is None else role.key))
    return found


def rotating(ctx: Context, view: CalloutView, index: int) -> bool:
    """Is this slot's place decided by rotation (holds respected)?"""
    return ctx.settings.rotation_offer_hours > 0 and view.slots[index].role is not None


def offer_until(ctx: Context, view: CalloutView) -> datetime | None:
    """How long an offer made now is held; None when the action is too close."""
    remaining = view.starts_at - ctx.now
    lead = max(timedelta(hours=1), remaining / 3)
    until = min(ctx.now + timedelta(hours=ctx.settings.rotation_offer_hours), view.starts_at - lead)
    return until if until - ctx.now >= MIN_OFFER else None


async def candidates(ctx: Context, view: CalloutView, index: int) -> list[Candidate]:
    role = view.slots[index].role
    if role is None:
        return []
    cells = None if view.audience.network else list(view.audience.cells)
    holders = await ctx.repos.roles.holders(role, cells, now=ctx.now)
    zone = ZoneInfo(ctx.settings.timezone)
    local = view.starts_at.astimezone(zone)
    ids = [m for m, mask in holders.items() if available(mask, local)]
    ids = sorted(await ctx.repos.callouts.in_audience(view.audience, ids, now=ctx.now))
    rotation = ctx.repos.rotation
    seen = await rotation.ever_offered(view.id, index)
    answered = await rotation.answered(view.id, ids)
    ids = [
        m
        for m in ids
        if rotation.digest(m) not in seen
        and (m not in answered or (answered[m].answer != "no" and answered[m].slot is None))
    ]
    since = ctx.now - timedelta(days=ctx.settings.concentration_days)
    served = await rotation.served(ids, since=since, besides=view.id)
    found = [Candidate(m, served[m]) for m in ids]
    found.sort(
        key=lambda c: (
            c.served.last is not None,
            # the network's calendar day: same day, fewer actions lately goes first
            date.min if c.served.last is None else c.served.last.astimezone(zone).date(),
            c.served.count,
            rotation.digest(c.member_id),
        )
    )
    return found


async def free_places(ctx: Context, view: CalloutView, index: int) -> int:
    """Places of a slot neither taken nor held for someone whose turn it is."""
    taken = await ctx.repos.callouts.slots_taken(view.id)
    held = await ctx.repos.rotation.outstanding(view.id)
    return view.slots[index].need - taken.get(index, 0) - held.get(index, 0)


async def start_offers(ctx: Context, view: CalloutView) -> None:
    for index, slot in enumerate(view.slots):
        if slot.role is not None and ctx.settings.rotation_offer_hours > 0:
            await offer_next(ctx, view, index)


async def offer_next(ctx: Context, view: CalloutView, index: int) -> int:
    """Offer the slot's free places to the next candidates; widen when none is left.
    A widened slot stays open to everyone asked: they were told so."""
    if index in view.widened:
        return 0
    free = await free_places(ctx, view, index)
    if free <= 0:
        return 0
    until = offer_until(ctx, view)
    chosen = [] if until is None else (await candidates(ctx, view, index))[:free]
    for candidate in chosen:
        assert until is not None
        await ctx.repos.rotation.offer(
            view.id, index, candidate.member_id, now=ctx.now, until=until
        )
        await _tell_offer(ctx, view, index, candidate, until)
    if len(chosen) < free:
        await widen(ctx, view, index)
    return len(chosen)


async def _tell_offer(
    ctx: Context, view: CalloutView, index: int, candidate: Candidate, until: datetime
) -> None:
    fresh = await ctx.repos.callouts.add_members(view.id, [candidate.member_id])
    found = await ctx.repos.members.accounts_of([candidate.member_id])
    if candidate.member_id not in found:
        return
    member, account = found[candidate.member_id]
    language, slot = member.language, view.slots[index]
    why = _why(ctx, language, candidate.served.last)
    lines = [texts.invitation(ctx.settings, language, view)] if fresh else []
    lines.append(
        translate(
            language,
            _("rotation.offer"),
            ref=view.ref,
            what=view.what,
            when=texts.when_text(ctx.settings, language, view.starts_at),
            role=slot.name,
            why=why,
            until=texts.when_text(ctx.settings, language, until),
        )
    )
    ctx.queue(account, "\n\n".join(lines), priority=URGENT, batch=view.id, tag=view.id)


def _why(ctx: Context, language: str, last: datetime | None) -> str:
    """Why it is their turn, truthfully: a YES to another action still to come sorts
    them after everyone with a past turn, and the message must not call it past."""
    if last is None:
        return translate(language, _("rotation.first_turn"))
    day = texts.when_text(ctx.settings, language, last, "d MMM")
    if last > ctx.now:
        return translate(language, _("rotation.booked_turn"), date=day)
    return translate(language, _("rotation.last_turn"), date=day)


async def widen(ctx: Context, view: CalloutView, index: int) -> None:
    """No candidate left: the slot's free places are open to everyone asked (once)."""
    if index in view.widened:
        return
    view_now = await ctx.repos.callouts.by_id(view.id)
    if view_now is None or index in view_now.widened:
        return
    await ctx.repos.callouts.update_body(
        view.id,
        who="rotation",
        event="widened_slot",
        now=ctx.now,
        widened=[*view_now.widened, index],
    )
    slot = view.slots[index]
    if not await ctx.repos.rotation.ever_offered(view.id, index):
        return  # nobody was in the rotation: the slot was open from the start
    people = await ctx.repos.callouts.member_ids(view.id, answers=("yes", "maybe"))
    answered = await ctx.repos.rotation.answered(view.id, people)
    open_to = [m for m in people if answered.get(m) is not None and answered[m].slot is None]

    def compose(language: str) -> str:
        return translate(language, _("rotation.slot_open"), ref=view.ref, role=slot.name)

    await send_to(ctx, open_to, compose, priority=URGENT)
    await tell_organizers(ctx, view, _("rotation.widened"), role=slot.name)


# --- answers -------------------------------------------------------------------------


async def may_take(ctx: Context, view: CalloutView, index: int, member_id: str) -> bool:
    """May this person take a place of this slot now?  Their own offer always may."""
    if index in await ctx.repos.rotation.offered_to(view.id, member_id):
        return True
    return await free_places(ctx, view, index) > 0


async def held_note(ctx: Context, view: CalloutView, index: int) -> str | None:
    """Why a place could not be taken, when it is held for someone whose turn it is."""
    until = await ctx.repos.rotation.held_until(view.id, index)
    if until is None:
        return None
    return ctx.t(
        _("rotation.held"), role=view.slots[index].name, until=ctx.format_time(until), ref=view.ref
    )


async def answered(
    ctx: Context,
    view: CalloutView,
    member_id: str,
    answer: str,
    slot: int | None,
    *,
    before: int | None = None,
) -> None:
    """After an answer is recorded: a taken offer is settled; NO passes the rest on; a
    role place given up (NO, or another slot taken instead: ``before``) goes to the
    next person whose turn it is rather than to whoever writes first."""
    offered = await ctx.repos.rotation.offered_to(view.id, member_id)
    if answer == "yes" and slot is not None and slot in offered:
        await ctx.repos.rotation.settle(view.id, member_id, {slot}, TAKEN)
        offered.discard(slot)
    if answer == "no" and offered:
        await pass_on(ctx, view, member_id, offered)
    if before is not None and before != slot and rotating(ctx, view, before):
        await offer_next(ctx, view, before)


async def pass_on(ctx: Context, view: CalloutView, member_id: str, slots: set[int]) -> None:
    await ctx.repos.rotation.settle(view.id, member_id, slots, PASSED)
    for index in sorted(slots):
        await offer_next(ctx, view, index)


async def expired(ctx: Context, *, callout_id: str, slot: int) -> None:
    """Offers of a slot ran out: the next candidates are asked."""
    view = await ctx.repos.callouts.by_id(callout_id, lock=True)
    if view is None or view.status not in ("sending", "sent") or view.starts_at <= ctx.now:
        await ctx.repos.rotation.close_all(callout_id)
        return
    if await ctx.repos.rotation.expire(callout_id, slot, now=ctx.now):
        await offer_next(ctx, view, slot)
