"""Sweep: after an action, ask its cell's organizers and the people who confirmed for a
debrief (``DEBRIEF <id>``), once.

Due when the call-out was delivered (sent or done, never cancelled), started
``debrief_hours`` ago and was not asked yet (``callouts.debriefed``).  Each call-out is
one transaction: the flag is flipped (a conditional update: a concurrent tick finds it
done) together with the invitations going to the outbox, at routine priority, and
attendance is settled (``attended`` = said yes, where nothing recorded it).

A bot that was down asks once when it is back; for an action more than
:data:`STALE_DAYS` over, it only records attendance: an invitation that late would
puzzle more than help.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from bot.context import ROUTINE, Context
from bot.i18n import _, translate
from security import Keyring
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.timers import Timers

STALE_DAYS = 7
BATCH = 200


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    hours = timers.dispatcher.settings.debrief_hours
    async with timers.dispatcher.db.transaction() as session:
        due = await Repositories(session, keys).debriefs.due(now=now, hours=hours, limit=BATCH)
    for callout_id in due:
        await timers.in_context(keys, now, partial(ask, callout_id=callout_id))
    return len(due)


async def ask(ctx: Context, *, callout_id: str) -> None:
    repos = ctx.repos
    starts_at = await repos.debriefs.claim(callout_id, now=ctx.now)
    if starts_at is None:
        return  # another tick did it
    await repos.debriefs.settle_attendance(callout_id)
    late = ctx.now - starts_at - timedelta(hours=ctx.settings.debrief_hours)
    if late > timedelta(days=STALE_DAYS):
        return
    callout = await repos.callouts.view(callout_id)
    if callout is None:
        return  # shredded
    organizers = await repos.cells.member_ids(callout.cell_id, role="organizer")
    confirmed = await repos.callouts.confirmed_member_ids(callout_id)
    people = list(dict.fromkeys([*organizers, *confirmed]))
    for member, account in (await repos.members.accounts_of(people)).values():
        text = translate(member.language, _("debrief.invite"), what=callout.what, ref=callout.ref)
        ctx.queue(account, text, priority=ROUTINE)
