"""Cryptographic primitives for Lantern.

This package is a leaf: it imports nothing from ``bot``, ``handlers`` or ``storage``,
so it can be audited on its own and reused by the repositories (field encryption) and
the vault (sealing and unsealing), which are its only callers.
"""

from security.fields import BlindIndex, DecryptionError, FieldCipher
from security.keyring import Keyring, KeyringError
from security.sealing import BacklogOpener, BacklogSealer
from security.unseal import ShareCollector, ShareError

__all__ = [
    "BacklogOpener",
    "BacklogSealer",
    "BlindIndex",
    "DecryptionError",
    "FieldCipher",
    "Keyring",
    "KeyringError",
    "ShareCollector",
    "ShareError",
]
