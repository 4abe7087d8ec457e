"""The participation covenant's invitations and answers (issue 6: being written)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from storage.keystore import KeyStore


class CovenantRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore
