"""The keys an unsealed process holds, all derived from (or wrapped by) one root key.

```
unseal key U (random, never stored; split k-of-n among coordinators, or Argon2id(passphrase))
  └─ wraps root key R (random, stored only as AES-GCM(U) in the network row)
       ├─ HKDF → blind-index key           (HMAC of account UUIDs, handles, codes)
       ├─ HKDF → KEK-wrapping key          (wraps each cell's versioned KEKs)
       │     └─ cell KEK v1, v2 …          (wrap per-record data keys)
       │           └─ per-record data key  (encrypts that record's fields)
       ├─ HKDF → network-field key         (the network's own name)
       └─ HKDF → backlog X25519 key pair   (HPKE: the *public* half is stored, so a sealed
                                            process can write inbound messages it cannot read)
```

A :class:`Keyring` exists only while the process is unsealed; sealing drops it (and its
cache of unwrapped cell keys).  Python cannot reliably zero memory, so "wiped" means no
reference is kept; SECURITY.md says so.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from security.fields import BlindIndex, FieldCipher
from security.sealing import BacklogOpener

KEY_BYTES = 32


class KeyringError(Exception):
    """A key has the wrong size or shape.  Never carries key material."""


def derive(root: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(root)


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class Keyring:
    """Purpose keys derived from the root key, plus unwrapped cell KEKs as they are used."""

    def __init__(self, root_key: bytes) -> None:
        if len(root_key) != KEY_BYTES:
            raise KeyringError("root key must be 32 bytes")
        self.index = BlindIndex(derive(root_key, b"lantern/blind-index/v1"))
        self.kek_wrap = FieldCipher(derive(root_key, b"lantern/kek-wrap/v1"))
        self.network = FieldCipher(derive(root_key, b"lantern/network/v1"))
        # queued outbound messages: transient (the text is dropped once sent)
        self.outbox = FieldCipher(derive(root_key, b"lantern/outbox/v1"))
        seed = derive(root_key, b"lantern/backlog/v1")
        self.backlog = BacklogOpener(X25519PrivateKey.from_private_bytes(seed))
        self._keks: dict[tuple[str, int], FieldCipher] = {}

    @classmethod
    def generate(cls) -> Keyring:
        """A throw-away keyring, for unit tests of the storage layer only."""
        return cls(new_key())

    @property
    def backlog_public(self) -> bytes:
        return self.backlog.public_bytes

    def kek(self, cell_id: str, version: int) -> FieldCipher | None:
        return self._keks.get((cell_id, version))

    def remember_kek(self, cell_id: str, version: int, key: bytes) -> FieldCipher:
        cipher = FieldCipher(key, key_version=version)
        self._keks[(cell_id, version)] = cipher
        return cipher

    def forget_kek(self, cell_id: str, version: int) -> None:
        self._keks.pop((cell_id, version), None)

    def forget(self) -> None:
        """Drop every unwrapped key this keyring holds (seal, panic)."""
        self._keks.clear()
        self.__dict__.pop("index", None)
        self.__dict__.pop("kek_wrap", None)
        self.__dict__.pop("network", None)
        self.__dict__.pop("outbox", None)
        self.__dict__.pop("backlog", None)
