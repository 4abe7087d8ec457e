"""Feature handlers.  Each module registers its commands and dialog steps on the router."""

from __future__ import annotations

from bot.router import Router
from handlers import (
    assess,
    cases,
    cells,
    council,
    decisions,
    intake,
    join,
    members,
    rekey,
    verify,
    votes,
)


def build_router() -> Router:
    """The one router; registration order is the order ``help`` lists commands in."""
    router = Router()
    join.register(router)
    members.register(router)
    cells.register(router)
    intake.register(router)
    cases.register(router)
    assess.register(router)
    votes.register(router)
    decisions.register(router)
    council.register(router)
    rekey.register(router)
    verify.register(router)
    return router
