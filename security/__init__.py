"""Cryptographic primitives for Lantern.

This package is a leaf: it imports nothing from ``bot``, ``handlers`` or ``storage``,
so it can be audited on its own and reused by the repositories, which are the only
callers allowed to encrypt or decrypt.
"""

from security.fields import BlindIndex, DecryptionError, FieldCipher
from security.keyring import Keyring, KeyringError

__all__ = ["BlindIndex", "DecryptionError", "FieldCipher", "Keyring", "KeyringError"]
