"""Every periodic check a timer tick runs after votes, drafts and retention, in order.

Each sweep is ``async def sweep(timers, keys, now) -> int`` (how many items it handled):
it finds what is due in the database (the source of truth for every deadline), and does
each item in its own transaction through :meth:`bot.timers.Timers.in_context`, so its
messages go to the outbox with the change that caused them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from security import Keyring

if TYPE_CHECKING:
    from bot.timers import Timers

Sweep = Callable[["Timers", Keyring, datetime], Awaitable[int]]


def registered() -> list[Sweep]:
    """Imported late: the sweeps use the timers' context helpers."""
    from bot import (
        callout_timers,
        debrief_timers,
        outbox_timers,
        pause_timers,
        prompt_timers,
        rotation_timers,
    )

    return [
        callout_timers.sweep,
        rotation_timers.sweep,
        prompt_timers.sweep,
        debrief_timers.sweep,
        pause_timers.sweep,
        outbox_timers.sweep,
    ]
