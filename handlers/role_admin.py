"""Coordinators change the role catalogue (issue 6: being written)."""

from __future__ import annotations

from bot.router import Router


def register(router: Router) -> None:
    """Commands: addrole, retirerole."""
