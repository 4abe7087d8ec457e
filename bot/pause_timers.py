"""Sweep: pauses that ended.  The member is welcomed back (at routine priority: it can
wait behind people who are waiting for an answer) and the pause is cleared, in one
transaction per person; a conditional clear makes the welcome go out once.

Even without this sweep nobody stays excluded after a pause: call-out audiences and role
offers compare ``paused_until`` with the time, so the sweep only says hello.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from bot.context import Context
from bot.i18n import _
from security import Keyring
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.timers import Timers

BATCH = 100  # people welcomed back per tick; the rest at the next


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    async with timers.dispatcher.db.transaction() as session:
        over = await Repositories(session, keys).roles.pauses_over(now=now, limit=BATCH)
    for member_id in over:
        await timers.in_context(keys, now, partial(welcome, member_id=member_id))
    return len(over)


async def welcome(ctx: Context, *, member_id: str) -> None:
    if not await ctx.repos.roles.end_pause(member_id, now=ctx.now):
        return
    member = await ctx.repos.members.by_id(member_id)
    if member is not None:
        await ctx.announce(member, _("pause.over"))
