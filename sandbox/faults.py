"""Fault injection: the failures a Signal bot meets in production, on demand.

Each knob mirrors something the real signal-cli-rest-api does (429 with challenge tokens,
per-recipient failure reasons, captcha challenges, a flaky proxy in front of it), so a bot's
error handling can be exercised without a Signal server.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

RECIPIENT_REASONS = frozenset(
    {
        "RATE_LIMIT_FAILURE",
        "UNREGISTERED_FAILURE",
        "IDENTITY_FAILURE",
        "NETWORK_FAILURE",
        "INVALID_PRE_KEY_FAILURE",
    }
)

# Knobs settable through set_faults(); internal state (bucket level, rng) is not.
SETTABLE = (
    "rate_limit_per_second",
    "rate_limit_burst",
    "recipient_failures",
    "captcha_required",
    "fail_next",
    "fail_probability",
    "fail_status",
    "fail_path_prefix",
    "seed",
    "latency_ms",
)


@dataclass
class FaultConfig:
    """Live fault settings; mutate through :meth:`update` so derived state stays coherent."""

    rate_limit_per_second: float | None = None  # token bucket refill; None = unlimited
    rate_limit_burst: int = 1
    recipient_failures: dict[str, str] = field(default_factory=dict)  # persona key -> reason
    captcha_required: bool = False
    captcha_token: str | None = None
    fail_next: int = 0
    fail_probability: float = 0.0
    fail_status: int = 500
    fail_path_prefix: str = ""
    seed: int | None = None
    latency_ms: int = 0
    _tokens: float = field(default=0.0, repr=False)
    _refilled_at: float = field(default=0.0, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def update(self, **kwargs: Any) -> None:
        """Apply settings by name; unknown names or bad values raise ValueError."""
        unknown = set(kwargs) - set(SETTABLE)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        for name, value in kwargs.items():
            setattr(self, name, value)
        self._validate()
        if "rate_limit_per_second" in kwargs or "rate_limit_burst" in kwargs:
            self._tokens = float(self.rate_limit_burst)
            self._refilled_at = time.monotonic()
        if "seed" in kwargs:
            self._rng = random.Random(self.seed)  # noqa: S311 - reproducible faults, not crypto
        if kwargs.get("captcha_required"):
            self.captcha_token = str(uuid.uuid4())
        elif "captcha_required" in kwargs:
            self.captcha_token = None

    def _validate(self) -> None:
        if self.rate_limit_per_second is not None and self.rate_limit_per_second < 0:
            raise ValueError("rate_limit_per_second must be >= 0")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be >= 1")
        if not 0.0 <= self.fail_probability <= 1.0:
            raise ValueError("fail_probability must be within [0, 1]")
        if not 500 <= self.fail_status <= 599:
            raise ValueError("fail_status must be a 5xx status")
        if self.fail_next < 0 or self.latency_ms < 0:
            raise ValueError("fail_next and latency_ms must be >= 0")
        bad = {r for r in self.recipient_failures.values() if r not in RECIPIENT_REASONS}
        if bad:
            raise ValueError(f"unknown failure reasons {sorted(bad)}")

    def clear(self) -> None:
        """Back to a healthy service."""
        fresh = FaultConfig()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))

    def take_send_token(self) -> bool:
        """Consume one send from the bucket; False means "over the rate limit"."""
        if self.rate_limit_per_second is None:
            return True
        now = time.monotonic()
        elapsed = now - self._refilled_at
        self._refilled_at = now
        self._tokens = min(
            float(self.rate_limit_burst), self._tokens + elapsed * self.rate_limit_per_second
        )
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def should_fail(self, path: str) -> bool:
        """Decide whether this API request gets an injected 5xx."""
        if not path.startswith(self.fail_path_prefix):
            return False
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return self.fail_probability > 0 and self._rng.random() < self.fail_probability

    def to_dict(self) -> dict[str, Any]:
        """The public settings, plus the pending captcha token if any."""
        out = {name: getattr(self, name) for name in SETTABLE}
        out["recipient_failures"] = dict(self.recipient_failures)
        out["captcha_token"] = self.captcha_token
        return out
