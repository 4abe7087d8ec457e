"""Write-only sealing of inbound messages (HPKE, RFC 9180: X25519, HKDF-SHA256, AES-256-GCM).

Every inbound message is journaled sealed to the network's backlog *public* key before it
is handled.  A sealed process (after a restart, or after a coordinator's panic ``seal``)
holds only that public key: it can keep accepting messages without being able to read
them, or anything else.  The private key is derived from the root key after unseal.
Each sealed message gets its own ephemeral key, so this is also the per-record data key
of an inbound backlog item.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from security.fields import DecryptionError

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_RAW = serialization.Encoding.Raw


class BacklogSealer:
    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise ValueError("backlog public key must be 32 bytes")
        self._public = X25519PublicKey.from_public_bytes(public_key)

    def seal(self, plaintext: bytes, *, info: bytes) -> bytes:
        return _SUITE.encrypt(plaintext, self._public, info=info)


class BacklogOpener:
    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key
        self.public_bytes = private_key.public_key().public_bytes(
            _RAW, serialization.PublicFormat.Raw
        )

    def open(self, blob: bytes, *, info: bytes) -> bytes:
        try:
            return _SUITE.decrypt(blob, self._private, info=info)
        except (InvalidTag, ValueError):
            raise DecryptionError("sealed message does not open with this key") from None
