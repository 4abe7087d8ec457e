"""Canary values, the encodings an attacker would search for, and scanners for the
places a seized server keeps data (database files, SQL tables, logs).

Used by the threat tests (``tests/test_threats*.py``; shared/docs/security-model.md,
"Threat tests").  A canary is a distinctive value put into the system through the real
dispatcher; finding any of its forms where it must not be is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import secrets
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.logging import configure_logging
from storage.db import Database, is_sqlite

MIN_FORM = 8  # shorter fragments could match random ciphertext by chance


def _b64_fragments(raw: bytes, alphabet: str) -> dict[str, bytes]:
    """The base64 characters that depend only on ``raw``, for each of the 3 byte offsets
    at which ``raw`` can start inside a longer encoded blob."""
    out: dict[str, bytes] = {}
    for offset in range(3):
        padded = b"\x00" * offset + raw + b"\x00\x00"
        encoded = (
            base64.urlsafe_b64encode(padded) if alphabet == "url" else base64.b64encode(padded)
        )
        start = -(-8 * offset // 6)
        end = 8 * (offset + len(raw)) // 6
        fragment = encoded[start:end]
        if len(fragment) >= MIN_FORM:
            out[f"base64{alphabet}@{offset}"] = fragment
    return out


def byte_forms(raw: bytes) -> dict[str, bytes]:
    forms = {"raw": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    forms |= _b64_fragments(raw, "std") | _b64_fragments(raw, "url")
    return forms


def text_forms(value: str) -> dict[str, bytes]:
    """UTF-8, UTF-16-LE/BE, and hex / base64 of the UTF-8 bytes."""
    forms = {f"utf8/{k}": v for k, v in byte_forms(value.encode("utf-8")).items()}
    forms["utf16le"] = value.encode("utf-16-le")
    forms["utf16be"] = value.encode("utf-16-be")
    return forms


def uuid_forms(value: str) -> dict[str, bytes]:
    parsed = uuid.UUID(value)
    forms: dict[str, bytes] = {}
    for name, shown in (
        ("lower", str(parsed)),
        ("upper", str(parsed).upper()),
        ("plain", parsed.hex),
        ("PLAIN", parsed.hex.upper()),
    ):
        forms |= {f"{name}/{k}": v for k, v in text_forms(shown).items()}
    forms |= {f"bytes/{k}": v for k, v in byte_forms(parsed.bytes).items()}
    forms |= {f"bytes_le/{k}": v for k, v in byte_forms(parsed.bytes_le).items()}
    return forms


def phone_shapes(e164: str) -> dict[str, str]:
    """E.164 and the ways people and libraries format the same number."""
    number = phonenumbers.parse(e164, None)
    fmt = phonenumbers.PhoneNumberFormat
    return {
        "e164": phonenumbers.format_number(number, fmt.E164),
        "e164_no_plus": phonenumbers.format_number(number, fmt.E164)[1:],
        "international": phonenumbers.format_number(number, fmt.INTERNATIONAL),
        "national": phonenumbers.format_number(number, fmt.NATIONAL),
        "rfc3966": phonenumbers.format_number(number, fmt.RFC3966),
        "digits": str(number.national_number),
    }


def phone_forms(e164: str) -> dict[str, bytes]:
    forms: dict[str, bytes] = {}
    for name, shown in phone_shapes(e164).items():
        forms |= {f"{name}/{k}": v for k, v in text_forms(shown).items()}
    return forms


def canary_word(prefix: str, letters: int = 10) -> str:
    """A handle-shaped canary: letters only, so it passes the handle rules."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(letters))


@dataclass
class Canaries:
    """Labelled canaries, each with every form it is searched for in."""

    forms: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def add_text(self, label: str, value: str) -> str:
        assert len(value.encode()) >= MIN_FORM, "canaries must be long enough to be unique"
        self.forms[label] = text_forms(value)
        return value

    def add_uuid(self, label: str, value: str) -> str:
        self.forms[label] = uuid_forms(value)
        return value

    def add_phone(self, label: str, e164: str) -> str:
        self.forms[label] = phone_forms(e164)
        return e164

    @property
    def form_count(self) -> int:
        return sum(len(f) for f in self.forms.values())

    def hits(self, blob: bytes | str) -> list[str]:
        data = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
        return [
            f"{label}:{name}"
            for label, forms in self.forms.items()
            for name, form in forms.items()
            if form in data
        ]


# --- what a seized server holds -------------------------------------------------------


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database and database != ":memory:", "cold-copy tests need a file-backed SQLite"
    return Path(database)


def sqlite_files(url: str) -> dict[str, bytes]:
    """The database file and its -wal / -shm companions, as a copy of the disk would have
    them (read while the engine is open, like a seizure of a running server)."""
    path = sqlite_path(url)
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


async def sql_dump(db: Database) -> bytes:
    """Every column of every row of every table, as the database hands it out."""
    chunks: list[bytes] = []
    async with db.transaction() as session:
        if is_sqlite(db.url):
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            query = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        tables = list((await session.scalars(text(query))).all())
        assert "members" in tables and "inbound_journal" in tables, tables
        for table in tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table}"'))).all():
                for value in row:
                    chunks.append(_as_bytes(value))
    return b"\x00".join(chunks)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


async def postgres_files(db: Database) -> dict[str, bytes] | None:
    """The heap, TOAST and index files of every table, after a CHECKPOINT; ``None`` when
    the server's data directory is not readable from here (e.g. a CI service container).

    This sees what SQL does not: dead row versions that VACUUM has not removed yet.
    """
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            await conn.execute(text("CHECKPOINT"))
        except Exception:
            return None
        data_dir = Path(str(await conn.scalar(text("SHOW data_directory"))))
        rows = await conn.execute(
            text(
                "SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r','i') "
                "UNION ALL SELECT c.relname || '/toast', pg_relation_filepath(c.reltoastrelid) "
                "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.reltoastrelid <> 0"
            )
        )
        found: dict[str, bytes] = {}
        for name, relpath in rows.all():
            if relpath is None:
                continue
            path = data_dir / relpath
            try:
                found[name] = b"".join(
                    p.read_bytes() for p in [path, *sorted(path.parent.glob(path.name + ".*"))]
                )
            except OSError:
                return None
        return found


@dataclass
class AtRest:
    """Everything a cold copy of the database gives an attacker, by where it came from."""

    parts: dict[str, bytes]

    def hits(self, canaries: Canaries) -> list[str]:
        return [
            f"{where}: {hit}" for where, blob in self.parts.items() for hit in canaries.hits(blob)
        ]


async def at_rest(db: Database) -> AtRest:
    parts = {"sql": await sql_dump(db)}
    if is_sqlite(db.url):
        parts |= {f"file:{name}": blob for name, blob in sqlite_files(db.url).items()}
    else:
        files = await postgres_files(db)
        parts |= {f"pgfile:{name}": blob for name, blob in (files or {}).items()}
    return AtRest(parts)


# --- logs ---------------------------------------------------------------------------


@contextlib.contextmanager
def debug_logs(*, every_library: bool = True) -> Iterator[io.StringIO]:
    """The product's logging set up at DEBUG, writing to a buffer.

    ``every_library`` also lowers the loggers the product holds at WARNING (signalbot,
    SQLAlchemy, aiosqlite, asyncio, …) to DEBUG: the worst an operator could configure.
    Everything is put back afterwards.  pytest's own capture handlers stay attached,
    after the product's handler, so ``caplog`` sees what the product would write.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    saved_structlog = structlog.get_config()
    sink = io.StringIO()
    configure_logging("DEBUG", stream=sink)
    root.handlers.extend(h for h in saved_handlers if h not in root.handlers)
    if every_library:
        for name in (*saved_levels, "signalbot", "sqlalchemy", "aiosqlite", "asyncio"):
            logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield sink
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, lg in logging.root.manager.loggerDict.items():
            if isinstance(lg, logging.Logger):
                lg.setLevel(saved_levels.get(name, logging.NOTSET))
        structlog.configure(**saved_structlog)
