"""Human-friendly secret codes (invites, later enrolment codes).

Crockford base32 without the look-alike letters, grouped for reading aloud; 15 symbols
carry 75 bits, far beyond online guessing under the bot's rate limit.
"""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS = 3
_GROUP_LEN = 5
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code() -> str:
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LEN)) for _ in range(_GROUPS))
    return "-".join(groups)


def normalise_code(raw: str) -> str:
    """What a person typed, forgiving case, spaces, dashes and look-alike letters."""
    cleaned = "".join(ch for ch in raw.upper() if ch.isalnum())
    return cleaned.translate(_CONFUSABLE)


def looks_like_code(raw: str) -> bool:
    norm = normalise_code(raw)
    return len(norm) == _GROUPS * _GROUP_LEN and all(ch in _ALPHABET for ch in norm)


REF_LEN = 5


def new_ref() -> str:
    """A short public reference for a cell (25 bits): names nothing, guards nothing."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(REF_LEN))


def looks_like_ref(raw: str) -> bool:
    norm = normalise_code(raw)
    return len(norm) == REF_LEN and all(ch in _ALPHABET for ch in norm)


CASE_REF_LEN = 8


def new_case_ref() -> str:
    """A case id (40 bits, shown as ``K7Q2-M9XP``): short enough to type on a phone,
    random so that ids of other cases cannot be walked or guessed under the rate limit."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(CASE_REF_LEN))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_case_ref(raw: str) -> str | None:
    """The canonical ``XXXX-XXXX`` form of what someone typed, or None if it cannot be one."""
    norm = normalise_code(raw)
    if len(norm) != CASE_REF_LEN or any(ch not in _ALPHABET for ch in norm):
        return None
    return f"{norm[:4]}-{norm[4:]}"
