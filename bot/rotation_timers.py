"""Sweep: role-slot offers that ran out go to the next person whose turn it is (see
:mod:`bot.rotation`).  One (call-out, slot) per transaction; expiring is a conditional
update, so a concurrent tick or an answer that got there first makes it a no-op."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from bot import rotation
from bot.logging import get_logger
from security import Keyring
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.timers import Timers

log = get_logger("lantern.rotation")
BATCH = 100  # slots per tick; the rest at the next


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    async with timers.dispatcher.db.transaction() as session:
        due = await Repositories(session, keys).rotation.due(now=now, limit=BATCH)
    done = 0
    for callout_id, slot in due:
        try:
            await timers.in_context(
                keys, now, partial(rotation.expired, callout_id=callout_id, slot=slot)
            )
            done += 1
        except Exception as exc:  # one bad call-out must not stop the others
            log.error("rotation_step_failed", error_type=type(exc).__name__)
    return done
