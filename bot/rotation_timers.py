"""Sweep: role-slot offers that ran out (issue 6: being written)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from security import Keyring

if TYPE_CHECKING:
    from bot.timers import Timers


async def sweep(timers: Timers, keys: Keyring, now: datetime) -> int:
    return 0
