"""The language of whoever wrote lately, for the notices sent when the database fails.

A person's language lives in the database; when the database is the thing failing, the
bot still owes them "your message waits" or "send it again".  Those notices used to come
in the network's default language, which a Spanish-speaking member of an English network
may not read.  This remembers, in memory only, the language each recent sender was last
answered in.

Nothing here outlives the keys: entries are blind-indexed under a random key made for
this unsealed period and everything is dropped when the vault seals (a panic seal, or a
stop), so a memory image taken after a seal shows neither who wrote nor in what language.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from security import BlindIndex, Keyring

SIZE = 4096  # senders remembered; the oldest is forgotten first


class RecentLanguages:
    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._seen: OrderedDict[bytes, str] = OrderedDict()
        self._keys: Keyring | None = None
        self._index = BlindIndex(os.urandom(32))

    def _bound_to(self, keys: Keyring | None) -> bool:
        """Entries belong to one unsealed period: another keyring (or none) clears them."""
        if keys is not self._keys:
            self.forget()
            self._keys = keys
        return keys is not None

    def remember(self, account: str, language: str, keys: Keyring | None) -> None:
        if not self._bound_to(keys):
            return
        slot = self._index.digest("language", account)
        self._seen[slot] = language
        self._seen.move_to_end(slot)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def get(self, account: str, keys: Keyring | None) -> str | None:
        if not self._bound_to(keys):
            return None
        return self._seen.get(self._index.digest("language", account))

    def forget(self) -> None:
        self._seen.clear()
        self._index = BlindIndex(os.urandom(32))
        self._keys = None

    def __len__(self) -> int:
        return len(self._seen)
