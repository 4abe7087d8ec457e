"""Coordinators' commands about the network itself: panic seal and status.

``seal`` takes effect at once, without confirmation: it is the panic button.  The
sender and the other coordinators are told first (the replies need keys to address
them), then every key leaves memory.  Destruction needs one person; unsealing again
needs k.
"""

from __future__ import annotations

from bot.context import Context
from bot.i18n import _
from bot.router import Audience, Router
from handlers import callout_admin


async def cmd_seal(ctx: Context) -> None:
    assert ctx.member is not None and ctx.network is not None
    for coordinator in await ctx.repos.members.with_role("coordinator"):
        if coordinator.id != ctx.member.id:
            await ctx.tell(
                coordinator,
                _("seal.announce"),
                handle=ctx.member.handle,
                needed=ctx.network.threshold,
            )
    ctx.reply(_("seal.done"), needed=ctx.network.threshold)
    ctx.after_commit("seal")


async def cmd_status(ctx: Context) -> None:
    """``status <id>`` is an organizer's call-out view; ``status`` alone is for
    coordinators (anyone else hears what they would for any unknown word)."""
    assert ctx.member is not None
    if ctx.args:
        await callout_admin.cmd_status(ctx)
        return
    if not ctx.member.is_coordinator:
        await ctx.router.fallback(ctx)
        return
    assert ctx.network is not None
    cells, people = await ctx.repos.cells.counts()
    coordinators = len(await ctx.repos.members.with_role("coordinator"))
    ctx.reply(
        _("status.summary"),
        cells=cells,
        people=people,
        coordinators=coordinators,
        threshold=ctx.network.threshold,
        count=ctx.network.share_count,
        mode=ctx.t(
            _("status.mode_shares") if ctx.network.mode == "shares" else _("status.mode_passphrase")
        ),
    )
    totals = await ctx.repos.outcomes.outcome_totals()
    if totals:
        ctx.reply(
            _("status.outcomes"),
            won=totals.get("won", (0, 0))[0],
            amount=totals.get("won", (0, 0))[1] + totals.get("settled", (0, 0))[1],
            lost=totals.get("lost", (0, 0))[0],
            settled=totals.get("settled", (0, 0))[0],
            declined=totals.get("declined", (0, 0))[0],
        )


def register(router: Router) -> None:
    router.command("seal", "sellar", audience=Audience.COORDINATOR, summary=_("help.seal"))(
        cmd_seal
    )
    router.command("status", "estado", audience=Audience.ORGANIZER, summary=_("help.status"))(
        cmd_status
    )
