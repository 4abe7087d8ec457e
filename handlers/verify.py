"""``verify <handle> [safety number]``: re-trust someone whose safety number changed.

Only someone who may vouch for them (an organizer of one of their cells; another
coordinator, for a coordinator), after checking in person.  Giving the digits shown on
the person's phone (Signal → the chat with this number → View safety number) makes the
check exact; without them the organizer vouches that they met the person.  Exactly the
safety number seen now is trusted: a key that changes again in between is not.

The reply for "no such handle", "not quarantined" and "not yours to verify" is the
same, so the command cannot be used to learn who exists in other cells.
"""

from __future__ import annotations

import re

from bot.context import Context
from bot.i18n import _
from bot.identities import IdentityError
from bot.quarantine import may_verify
from bot.router import Audience, Router

_MIN_DIGITS = 10


async def cmd_verify(ctx: Context) -> None:
    assert ctx.member is not None
    handle, _sep, digits_raw = ctx.args.strip().partition(" ")
    if not handle:
        ctx.reply(_("verify.usage"))
        return
    target = await ctx.repos.members.by_handle(handle)
    if (
        target is None
        or not target.quarantined
        or not await may_verify(ctx.repos, ctx.member, target)
    ):
        ctx.reply(_("verify.not_found"), handle=handle[:20])
        return
    account = await ctx.repos.members.account_of(target.id)
    digits = re.sub(r"\D", "", digits_raw)
    if account is None or ctx.identities is None or (digits and len(digits) < _MIN_DIGITS):
        ctx.reply(_("verify.usage"))
        return
    try:
        current = await ctx.identities.identity(account)
        if current is None or (digits and digits not in current.safety_number.replace(" ", "")):
            ctx.reply(_("verify.mismatch"), handle=target.handle)
            return
        await ctx.identities.trust(account, current.safety_number)
    except IdentityError:
        ctx.reply(_("verify.mismatch"), handle=target.handle)
        return
    await ctx.repos.members.set_identity(target.id, current.safety_number)
    ctx.reply(_("verify.done"), handle=target.handle)
    await ctx.tell(target, _("verify.you_are_verified"), by=ctx.member.handle)


def register(router: Router) -> None:
    router.command("verify", "verificar", audience=Audience.ORGANIZER, summary=_("help.verify"))(
        cmd_verify
    )
