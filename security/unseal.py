"""Splitting the unseal key among coordinators, and putting it back together.

The unseal key U is split with SLIP-39 (``shamir-mnemonic``): each coordinator gets 20 or
33 words with their own checksum, so a mistyped or changed word is caught before any
arithmetic happens.  U wraps the root key with AES-256-GCM; associated data binds the
wrap to the network id and the share epoch, so shares from before a rekey cannot open
the network after it.

Errors never say *which* share or word was wrong, and never include any of the words:
the same :class:`ShareError` message for every failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import shamir_mnemonic
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

UNSEAL_KEY_BYTES = 32
_NONCE = 12
# SLIP-39 encrypts the secret with a PBKDF2 Feistel network: 10000·2^e iterations.
# The unseal key is random (not a password), so the minimum is plenty.
_ITERATION_EXPONENT = 0
MIN_ARGON_TIME = 3
MIN_ARGON_MEMORY_KIB = 64 * 1024


class ShareError(Exception):
    """A share or set of shares was not accepted.  The message is always the same."""

    def __init__(self) -> None:
        super().__init__("share not accepted")


def normalise_words(raw: str) -> str:
    return " ".join(raw.lower().split())


def split_secret(secret: bytes, *, threshold: int, count: int) -> list[str]:
    if not 1 <= threshold <= count <= 16:
        raise ValueError("need 1 <= threshold <= count <= 16")
    [group] = shamir_mnemonic.generate_mnemonics(
        1, [(threshold, count)], secret, extendable=False, iteration_exponent=_ITERATION_EXPONENT
    )
    return list(group)


@dataclass(frozen=True)
class ShareInfo:
    identifier: int
    threshold: int
    index: int


def share_info(words: str) -> ShareInfo:
    try:
        share = shamir_mnemonic.Share.from_mnemonic(normalise_words(words))
    except Exception:  # MnemonicError, ValueError, KeyError for unknown words
        raise ShareError from None
    if share.group_count != 1 or share.group_threshold != 1:
        raise ShareError
    return ShareInfo(share.identifier, share.member_threshold, share.index)


class ShareCollector:
    """Shares arriving one message at a time, held in memory only, until k are here."""

    def __init__(self, *, identifier: int, threshold: int) -> None:
        self.identifier = identifier
        self.threshold = threshold
        self._shares: dict[int, str] = {}

    def add(self, words: str) -> int:
        """Accept one share; returns how many distinct shares are held.

        A share of another split (another network, or one from before a rekey), a
        changed word, or a share naming another threshold raises :class:`ShareError`.
        Sending the same share twice counts once.
        """
        info = share_info(words)
        if info.identifier != self.identifier or info.threshold != self.threshold:
            raise ShareError
        self._shares[info.index] = normalise_words(words)
        return len(self._shares)

    @property
    def count(self) -> int:
        return len(self._shares)

    @property
    def complete(self) -> bool:
        return len(self._shares) >= self.threshold

    def combine(self) -> bytes:
        try:
            secret: bytes = shamir_mnemonic.combine_mnemonics(list(self._shares.values()))
            return secret
        except Exception:
            raise ShareError from None
        finally:
            self._shares.clear()

    def clear(self) -> None:
        self._shares.clear()


def _root_ad(network_id: str, epoch: int) -> bytes:
    return f"lantern/root|{network_id}|{epoch}".encode("ascii")


def wrap_root(unseal_key: bytes, root_key: bytes, *, network_id: str, epoch: int) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(unseal_key).encrypt(nonce, root_key, _root_ad(network_id, epoch))


def unwrap_root(unseal_key: bytes, blob: bytes, *, network_id: str, epoch: int) -> bytes:
    if len(unseal_key) != UNSEAL_KEY_BYTES:
        raise ShareError
    try:
        return AESGCM(unseal_key).decrypt(blob[:_NONCE], blob[_NONCE:], _root_ad(network_id, epoch))
    except (InvalidTag, ValueError):
        raise ShareError from None


@dataclass(frozen=True)
class ArgonParams:
    """Argon2id cost, stored beside the salt so it can be raised later without lock-out."""

    time_cost: int = MIN_ARGON_TIME
    memory_kib: int = MIN_ARGON_MEMORY_KIB
    parallelism: int = 1


def passphrase_key(passphrase: str, salt: bytes, params: ArgonParams) -> bytes:
    """Single-operator mode: the unseal key comes from a passphrase (weaker; see SECURITY.md)."""
    if params.time_cost < MIN_ARGON_TIME or params.memory_kib < MIN_ARGON_MEMORY_KIB:
        raise ValueError("Argon2id parameters below t=3, m=64 MiB are not allowed")
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=UNSEAL_KEY_BYTES,
        type=Type.ID,
    )
