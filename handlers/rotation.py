"""PASS <id>: let the next person whose turn it is have the role place you were offered.

Like every call-out command, an id that was not sent to you — another cell's real one
or a random one — gets the same "not found" reply, built from what was typed.
"""

from __future__ import annotations

from bot import rotation
from bot.context import Context
from bot.i18n import _
from bot.policy import invited_callout
from bot.router import Audience, Router
from handlers.callout_admin import not_found


async def cmd_pass(ctx: Context) -> None:
    assert ctx.member is not None
    raw = ctx.args.split()[0] if ctx.args.split() else ""
    if not raw:
        ctx.reply(_("rotation.pass_usage"))
        return
    found = await invited_callout(ctx, raw, lock=True)
    if found is None:
        not_found(ctx, raw)
        return
    view, _mine = found
    offered = await ctx.repos.rotation.offered_to(view.id, ctx.member.id)
    if not offered or view.starts_at <= ctx.now:
        ctx.reply(_("rotation.nothing_to_pass"), ref=view.ref)
        return
    await rotation.pass_on(ctx, view, ctx.member.id, offered)
    roles = ", ".join(view.slots[i].name for i in sorted(offered))
    ctx.reply(_("rotation.passed"), ref=view.ref, role=roles)


def register(router: Router) -> None:
    router.command("pass", "paso", "pasar", audience=Audience.MEMBER, summary=_("help.pass"))(
        cmd_pass
    )
