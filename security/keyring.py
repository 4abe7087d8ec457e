"""Where the process gets its keys from.

Interim design (Foundation issue): one random 256-bit root key kept in a key file with
mode 0600 next to the data directory, from which purpose keys are derived with HKDF.
This already means a stolen database or backup *without* the key file is ciphertext
only.  The Compartmentalised-storage issue replaces the key file with a sealed start and
a k-of-n split unseal key; callers only depend on :class:`Keyring`'s methods, so that
change does not touch them.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from security.fields import BlindIndex, FieldCipher

_KEY_BYTES = 32
_MAGIC = b"LANTERN-ROOT-KEY-v1\n"


class KeyringError(Exception):
    """The key file is missing, unreadable, malformed or too widely readable."""


def _derive(root: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=purpose).derive(root)


class Keyring:
    """Purpose keys derived from one root key; the root key itself is not kept."""

    def __init__(self, root_key: bytes) -> None:
        if len(root_key) != _KEY_BYTES:
            raise KeyringError("root key must be 32 bytes")
        self.fields = FieldCipher(_derive(root_key, b"lantern/fields/v1"))
        self.index = BlindIndex(_derive(root_key, b"lantern/blind-index/v1"))

    @classmethod
    def generate(cls) -> Keyring:
        """A throw-away keyring, for tests and the in-memory demo."""
        return cls(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """Load the root key, creating it (0600, parent 0700) on first start."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            root = secrets.token_bytes(_KEY_BYTES)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MAGIC + root.hex().encode("ascii") + b"\n")
            return cls(root)
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(f"key file {path} is readable by other users; run: chmod 600 {path}")
        try:
            raw = path.read_bytes()
            if not raw.startswith(_MAGIC):
                raise ValueError
            root = bytes.fromhex(raw[len(_MAGIC) :].decode("ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            raise KeyringError(f"key file {path} is unreadable or malformed") from None
        return cls(root)
