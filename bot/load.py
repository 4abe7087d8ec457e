"""Who carries the load in a cell (issue 6: being written)."""

from __future__ import annotations

from bot.context import Context
from storage.callouts import CalloutView


async def on_callout_done(ctx: Context, view: CalloutView) -> None:
    """An action is over: tell organizers if a few people carry most of the load."""
