"""Members' roles, skills, availability and pauses (issue 6: being written)."""

from __future__ import annotations

from bot.router import Router


def register(router: Router) -> None:
    """Commands: roles, signup, drop, skills, pause, resume."""
