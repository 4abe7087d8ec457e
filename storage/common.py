"""Small helpers shared by the repositories."""

from __future__ import annotations

from datetime import UTC, datetime


def ad(*parts: str) -> bytes:
    """Associated data: binds a ciphertext to table, column and row (and cell, via its key)."""
    return "|".join(parts).encode("utf-8")


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we write is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
