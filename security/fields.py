"""Field encryption and keyed blind indexes.

Every personal field is stored as AES-256-GCM ciphertext whose associated data binds it
to where it lives (purpose, table, column, row id).  Moving a ciphertext to another row
or column therefore fails loudly instead of decrypting silently (threat test 3).

Lookups by Signal account UUID or invite code go through an HMAC-SHA256 blind index, so
an attacker with the database but without the key cannot test candidate values offline
(threat test 2).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT_VERSION = 1
_NONCE_BYTES = 12
_BLIND_INDEX_BYTES = 16


class DecryptionError(Exception):
    """Raised when a ciphertext is corrupt, tampered with, or bound to another place.

    The message never contains the ciphertext or any plaintext.
    """


class FieldCipher:
    """AES-256-GCM with a random 96-bit nonce per value.

    The stored form is ``version(1) | key_version(1) | nonce(12) | ciphertext+tag`` so
    a later key rotation can tell which key encrypted a value without a second column.
    """

    def __init__(self, key: bytes, *, key_version: int = 1) -> None:
        if len(key) != 32:
            raise ValueError("FieldCipher needs a 32-byte key")
        if not 0 < key_version < 256:
            raise ValueError("key_version must fit in one byte")
        self._aead = AESGCM(key)
        self._key_version = key_version

    def encrypt(self, plaintext: bytes, *, ad: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        header = bytes([_FORMAT_VERSION, self._key_version])
        return header + nonce + self._aead.encrypt(nonce, plaintext, header + ad)

    def decrypt(self, blob: bytes, *, ad: bytes) -> bytes:
        if len(blob) < 2 + _NONCE_BYTES + 16 or blob[0] != _FORMAT_VERSION:
            raise DecryptionError("unrecognised ciphertext format")
        if blob[1] != self._key_version:
            raise DecryptionError("ciphertext was written under another key version")
        header, nonce, body = blob[:2], blob[2 : 2 + _NONCE_BYTES], blob[2 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, header + ad)
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate for this place") from None

    def encrypt_text(self, text: str, *, ad: bytes) -> bytes:
        return self.encrypt(text.encode("utf-8"), ad=ad)

    def decrypt_text(self, blob: bytes, *, ad: bytes) -> str:
        return self.decrypt(blob, ad=ad).decode("utf-8")


class BlindIndex:
    """Keyed, truncated HMAC-SHA256 of a normalised value, namespaced by purpose.

    Namespacing keeps the index of an account UUID from ever equalling the index of an
    invite code or a handle, even if the same string were used for both.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("BlindIndex needs a 32-byte key")
        self._key = key

    def digest(self, purpose: str, value: str) -> bytes:
        message = purpose.encode("ascii") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_BLIND_INDEX_BYTES]
