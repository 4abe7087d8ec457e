"""The outbox: every outbound message, persisted before it is sent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring


class OutboxRepository:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._k = keys
