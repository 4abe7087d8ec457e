"""Role slots offered in rotation: passing one on (issue 6: being written)."""

from __future__ import annotations

from bot.router import Router


def register(router: Router) -> None:
    """Commands: pass <ref>."""
