"""The one per-sender rate limit, the same for members, strangers, former and banned.

A token bucket per sender, kept in memory under a per-process random pseudonym (a
keyed hash), never written anywhere.  Over the limit a message is dropped without a
reply: answering would cost the same work the limit is there to avoid, and silence is
the same for everyone.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        *,
        per_minute: float = 30.0,
        burst: int = 20,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = 50_000,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max = max_senders
        self._salt = secrets.token_bytes(16)
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def _key(self, account: str) -> bytes:
        return hashlib.blake2b(account.lower().encode(), key=self._salt, digest_size=16).digest()

    def allow(self, account: str) -> bool:
        now = self._clock()
        key = self._key(account)
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if len(self._buckets) >= self._max and key not in self._buckets:
            self._evict(now)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def _evict(self, now: float) -> None:
        """Forget senders whose bucket has refilled: they are indistinguishable from new."""
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]
