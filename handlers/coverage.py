"""Organizers' view of role coverage, load and the covenant (issue 6: being written)."""

from __future__ import annotations

from bot.router import Router


def register(router: Router) -> None:
    """Commands: coverage; the covenant's answers."""
