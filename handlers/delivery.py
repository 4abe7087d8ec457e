"""``captcha <signalcaptcha://…>``: a coordinator lifts Signal's captcha challenge.

When Signal wants a captcha, every send pauses and the coordinators are told the steps
(:mod:`bot.captcha`).  The solved link is submitted with the pending challenge token;
once Signal accepts it the challenge is cleared in this message's transaction and the
sender is woken after commit.  The operator can
do the same from the command line: ``lantern captcha <link>``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.captcha import captcha_link
from bot.context import Context
from bot.i18n import _
from bot.router import Audience, Router
from bot.signalapi import ChallengeRejected, SignalSendError


@runtime_checkable
class ChallengePort(Protocol):
    """The messenger behind ``ctx.identities`` also answers challenges."""

    async def submit_challenge(self, token: str, captcha: str) -> None: ...


async def cmd_captcha(ctx: Context) -> None:
    token = await ctx.repos.outbox.challenge()
    if token is None:
        ctx.reply(_("captcha.none"))
        return
    link = captcha_link(ctx.args)
    if link is None:
        ctx.reply(_("captcha.usage"))
        return
    port = ctx.identities
    if not isinstance(port, ChallengePort):
        ctx.reply(_("captcha.unavailable"))
        return
    try:
        await port.submit_challenge(token, link)
    except ChallengeRejected:
        ctx.reply(_("captcha.rejected"))
        return
    except (SignalSendError, OSError):
        ctx.reply(_("captcha.unavailable"))
        return
    await ctx.repos.outbox.clear_challenge(token)
    ctx.reply(_("captcha.done"))
    ctx.after_commit("resume")  # wake the sender now rather than at its next look


def register(router: Router) -> None:
    router.command(
        "captcha", "desafio", "desafío", audience=Audience.COORDINATOR, summary=_("help.captcha")
    )(cmd_captcha)
