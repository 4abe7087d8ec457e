"""(being written)"""

from __future__ import annotations

from bot.router import Router


def register(router: Router) -> None:
    pass
