"""Sweep: outbox housekeeping — delivery tombstones older than ``outbox_keep_days`` go.

Tombstones hold no recipient and no text (only a state, a priority and an opaque batch
id); they are kept a while for progress counts.  Pruning runs at most once an hour per
running bot, so a timer tick does not scan the done rows every 30 seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from bot.logging import get_logger
from security import Keyring
from storage.outbox import OutboxRepository

if TYPE_CHECKING:
    from bot.timers import Timers

log = get_logger("lantern.outbox")

EVERY = timedelta(hours=1)
_last: WeakKeyDictionary[Timers, datetime] = WeakKeyDictionary()


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    last = _last.get(timers)
    if last is not None and last <= now < last + EVERY:
        return 0
    _last[timers] = now
    before = now - timedelta(days=timers.dispatcher.settings.outbox_keep_days)
    async with timers.dispatcher.db.transaction() as session:
        pruned = await OutboxRepository(session, None).prune(before=before)
    if pruned:
        log.info("outbox_pruned", count=pruned)
    return 0  # housekeeping: no deadline was met here
