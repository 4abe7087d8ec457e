"""The language of whoever wrote lately, for the notices sent when the database fails.

A person's language lives in the database; when the database is the thing failing, the
bot still owes them "your message waits" or "send it again".  Those notices used to come
in the network's default language, which a Spanish-speaking member of an English network
may not read.  This remembers, in memory only, the language each recent sender was last
answered in.

Nothing here outlives the keys: a sender is found by the keyring's blind index (under its
own purpose, so the slot matches no column in the database), this holds no key of its
own, and the vault empties it at every seal (a panic seal, a stop), so a memory image
taken after a seal shows neither who wrote nor in what language.
"""

from __future__ import annotations

from collections import OrderedDict

from security import Keyring

SIZE = 4096  # senders remembered; the oldest is forgotten first
PURPOSE = "recent-language"


class RecentLanguages:
    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._seen: OrderedDict[bytes, str] = OrderedDict()

    def remember(self, account: str, language: str, keys: Keyring | None) -> None:
        if keys is None:
            return
        slot = keys.index.digest(PURPOSE, account)
        self._seen[slot] = language
        self._seen.move_to_end(slot)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def get(self, account: str, keys: Keyring | None) -> str | None:
        """None sealed, or for someone not answered since the unseal."""
        if keys is None:
            return None
        return self._seen.get(keys.index.digest(PURPOSE, account))

    def forget(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)
