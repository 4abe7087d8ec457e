"""Feature handlers.  Each module registers its commands and dialog steps on the router."""

from __future__ import annotations

from bot.router import Router
from handlers import (
    assess,
    callouts,
    cases,
    cells,
    council,
    coverage,
    debrief,
    decisions,
    delivery,
    intake,
    join,
    members,
    prompts,
    rekey,
    role_admin,
    roles,
    rotation,
    rsvp,
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
    callouts.register(router)
    rsvp.register(router)
    rotation.register(router)
    roles.register(router)
    coverage.register(router)
    role_admin.register(router)
    debrief.register(router)
    prompts.register(router)
    council.register(router)
    delivery.register(router)
    rekey.register(router)
    verify.register(router)
    return router
