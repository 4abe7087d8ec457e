"""The participation covenant (issue 6: being written)."""

from __future__ import annotations

from bot.context import Context
from storage.cases import CaseView


async def on_case_closed(ctx: Context, case: CaseView, outcome: str) -> None:
    """A fight is over: invite its subject, once, to give solidarity in the next."""


async def gave(ctx: Context) -> None:
    """The sender just signed up for a role or said yes to a call-out."""
