"""Coordinators change who holds the unseal key: proposals here, approvals in bot/rekey.py.

* ``coordinator add`` — a one-time enrollment code for a *candidate*; the candidate sends
  ``enroll <code>`` and gets no share and no coordinator power until a rekey includes them.
* ``coordinator remove <handle>`` — marks a coordinator for removal at the next rekey (no
  effect before); a candidate is dropped at once (they hold nothing).
  ``coordinator keep <handle>`` takes a mark back.
* ``rekey [k]`` — proposes the new set (coordinators not marked + candidates) with
  threshold k (default: the current one, capped at the new count) and tells every current
  coordinator how to approve.  ``rekey cancel`` drops it.

Nothing here changes the key: that needs k current shares (``approve <words>``).
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.i18n import _
from bot.rekey import (
    CANDIDATE,
    COORDINATOR,
    MAX_SHARES,
    MIN_THRESHOLD,
    Proposal,
    Rekeyer,
    Seat,
    handles,
)
from bot.router import Audience, Router
from security.codes import new_code
from storage.repositories import MemberView

ADD = frozenset({"add", "añadir", "anadir", "agregar"})
REMOVE = frozenset({"remove", "quitar"})
KEEP = frozenset({"keep", "mantener"})
CANCEL = frozenset({"cancel", "cancelar"})


def _rekeyer(ctx: Context) -> Rekeyer | None:
    """Only for a network whose key is split in shares and fully enrolled."""
    network = ctx.network
    if ctx.rekey is None or network is None or network.mode != "shares":
        ctx.reply(_("rekey.unavailable"))
        return None
    if network.state != "active" or network.share_identifier is None:
        ctx.reply(_("rekey.unavailable"))
        return None
    return ctx.rekey


async def _tell_coordinators(
    ctx: Context, message_id: str, /, *, others: bool = False, **values: object
) -> None:
    for coordinator in await ctx.repos.members.with_role(COORDINATOR):
        if not (others and ctx.member is not None and coordinator.id == ctx.member.id):
            await ctx.tell(coordinator, message_id, **values)


async def cmd_coordinator(ctx: Context) -> None:
    assert ctx.member is not None
    rekeyer = _rekeyer(ctx)
    if rekeyer is None:
        return
    word, _sep, rest = ctx.args.partition(" ")
    word, handle = word.casefold(), rest.strip()
    if word in ADD:
        await _add(ctx)
    elif word in REMOVE and handle:
        await _remove(ctx, rekeyer, handle)
    elif word in KEEP and handle:
        if not rekeyer.unmark(await _coordinator_id(ctx, handle)):
            ctx.reply(_("rekey.not_marked"), handle=handle)
            return
        ctx.reply(_("rekey.keep_done"), handle=handle)
        await _tell_coordinators(
            ctx, _("rekey.keep_announce"), others=True, by=ctx.member.handle, handle=handle
        )
    else:
        ctx.reply(_("rekey.coordinator_usage"))


async def _coordinator_id(ctx: Context, handle: str) -> str:
    found = await ctx.repos.members.by_handle(handle)
    return found.id if found is not None and found.role == COORDINATOR else ""


async def _add(ctx: Context) -> None:
    assert ctx.member is not None and ctx.network is not None
    code, hours = new_code(), ctx.settings.invite_hours
    await ctx.repos.network.add_enrollment(
        ctx.network.id, code, expires_at=ctx.now + timedelta(hours=hours)
    )
    ctx.reply(_("rekey.add_code"), hours=hours)
    ctx.reply_sensitive(code)  # in its own message, easy to forward
    await _tell_coordinators(ctx, _("rekey.add_announce"), others=True, handle=ctx.member.handle)


async def _remove(ctx: Context, rekeyer: Rekeyer, handle: str) -> None:
    assert ctx.member is not None
    target = await ctx.repos.members.by_handle(handle)
    if target is None or target.role not in (COORDINATOR, CANDIDATE):
        ctx.reply(_("rekey.not_coordinator"), handle=handle)  # a member reads like nobody
        return
    if target.role == CANDIDATE:
        proposal = rekeyer.proposal
        if proposal is not None and any(s.member_id == target.id for s in proposal.seats):
            ctx.reply(_("rekey.candidate_in_proposal"), handle=target.handle)
            return
        await ctx.tell(target, _("rekey.candidate_dropped_you"))
        await ctx.repos.members.delete(target.id)
        await _tell_coordinators(
            ctx, _("rekey.candidate_dropped"), by=ctx.member.handle, handle=target.handle
        )
        return
    rekeyer.mark_leaving(target.id)
    ctx.reply(_("rekey.remove_marked"), handle=target.handle)
    await _tell_coordinators(
        ctx, _("rekey.remove_announce"), others=True, by=ctx.member.handle, handle=target.handle
    )


async def cmd_rekey(ctx: Context) -> None:
    assert ctx.member is not None
    rekeyer = _rekeyer(ctx)
    if rekeyer is None:
        return
    if ctx.args.casefold() in CANCEL:
        if rekeyer.cancel() is None:
            ctx.reply(_("rekey.nothing"))
            return
        await _tell_coordinators(ctx, _("rekey.cancelled"), handle=ctx.member.handle)
        return
    if rekeyer.proposal is not None:
        ctx.reply(_("rekey.already_open"))
        return
    if ctx.args and not (ctx.args.isascii() and ctx.args.isdecimal()):
        ctx.reply(_("rekey.usage"))
        return
    await _propose(ctx, rekeyer)


async def _propose(ctx: Context, rekeyer: Rekeyer) -> None:
    assert ctx.member is not None and ctx.network is not None
    network = ctx.network
    if network.share_identifier is None:
        return
    coordinators = await ctx.repos.members.with_role(COORDINATOR)
    candidates = await ctx.repos.members.with_role(CANDIDATE)
    staying = sorted((c for c in coordinators if not rekeyer.is_leaving(c.id)), key=_by_handle)
    leaving = sorted((c for c in coordinators if rekeyer.is_leaving(c.id)), key=_by_handle)
    joining = sorted(candidates, key=_by_handle)
    count = len(staying) + len(joining)
    threshold = int(ctx.args) if ctx.args else min(network.threshold, count)
    if not 2 <= count <= MAX_SHARES:
        ctx.reply(_("rekey.bad_count"), count=count, most=MAX_SHARES)
        return
    if not MIN_THRESHOLD <= threshold <= count:  # as at init: one person never suffices
        ctx.reply(_("rekey.bad_threshold"), threshold=threshold, count=count)
        return
    held = [m.handle for m in (*staying, *joining) if m.quarantined]
    if held:
        ctx.reply(_("rekey.quarantined"), handles=", ".join(held))
        return
    proposal = Proposal(
        proposer=ctx.member.handle,
        seats=tuple(_seat(m) for m in (*staying, *joining)),
        joining=tuple(_seat(m) for m in joining),
        leaving=tuple(_seat(m) for m in leaving),
        threshold=threshold,
        needed=network.threshold,
        epoch=network.epoch,
        identifier=network.share_identifier,
    )
    if not rekeyer.propose(proposal):
        ctx.reply(_("rekey.already_open"))
        return
    await _tell_coordinators(
        ctx,
        _("rekey.proposed"),
        by=ctx.member.handle,
        handles=handles(proposal.seats),
        joining=handles(proposal.joining),
        leaving=handles(proposal.leaving),
        count=proposal.count,
        threshold=threshold,
        needed=network.threshold,
    )


def _seat(member: MemberView) -> Seat:
    return Seat(member.id, member.handle)


def _by_handle(member: MemberView) -> str:
    return member.handle.casefold()


async def candidate_enrolled(ctx: Context) -> None:
    """Called by the enroll flow when a candidate (not a founding coordinator) is done."""
    assert ctx.member is not None
    ctx.reply(_("rekey.candidate_enrolled"), handle=ctx.member.handle)
    await _tell_coordinators(ctx, _("rekey.candidate_announce"), handle=ctx.member.handle)


def register(router: Router) -> None:
    router.command(
        "coordinator",
        "coordinador",
        audience=Audience.COORDINATOR,
        summary=_("help.coordinator"),
    )(cmd_coordinator)
    router.command("rekey", "reclave", audience=Audience.COORDINATOR, summary=_("help.rekey"))(
        cmd_rekey
    )
