"""Invite creation shared by the CLI, the demo and (later) the organizer command."""

from __future__ import annotations

from datetime import timedelta

from security import Keyring
from security.codes import new_code
from storage.db import Database
from storage.models import utcnow
from storage.repositories import Repositories


async def create_invites(
    db: Database, keys: Keyring, role: str, count: int, valid: timedelta
) -> list[str]:
    """Codes are returned once and only their blind index is stored."""
    codes = [new_code() for _ in range(count)]
    async with db.transaction() as session:
        repos = Repositories(session, keys)
        for code in codes:
            await repos.invites.create(code, role=role, expires_at=utcnow() + valid)
    return codes
