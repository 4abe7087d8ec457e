"""Allow-listed structured logging.

Only fields named in :data:`SAFE_FIELDS` reach the output; any other key is replaced by
``"[dropped]"``, so a careless ``log.info(..., text=msg)`` cannot leak.  Third-party
loggers that print envelopes or SQL parameters are held at WARNING, and their records
pass through a scrubber that removes numbers and UUIDs before anything is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SAFE_FIELDS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "command",
        "kind",
        "flow",
        "state",
        "status",
        "error_type",
        "count",
        "duration_ms",
        "revision",
        "backend",
        "port",
        "attempt",
        "pending",
        "language",
        "sealed",
        "method",
    }
)

_NOISY = (
    "signalbot",
    "aiosqlite",
    "sqlalchemy",
    "asyncio",
    "websockets",
    "aiohttp.access",
    "apscheduler",
    "alembic",
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PHONE = re.compile(r"\+?\d[\d \-().]{6,}\d")


_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


def _phone_or_address(match: re.Match[str]) -> str:
    """IPv4 addresses (an operator's service address) stay readable; numbers do not."""
    return match.group(0) if _IPV4.fullmatch(match.group(0)) else "[number]"


def scrub(text: str) -> str:
    """Remove anything shaped like an account UUID or a phone number."""
    return _PHONE.sub(_phone_or_address, _UUID.sub("[uuid]", text))


def _allow_list(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        if key not in SAFE_FIELDS:
            event[key] = "[dropped]"
    return event


class _ScrubFilter(logging.Filter):
    """Stdlib records from libraries: format, scrub, and drop tracebacks' locals."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.msg} ({type(exc).__name__})"
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: str = "INFO", *, stream: Any = None) -> None:
    numeric = logging.getLevelName(level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ScrubFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _allow_list,
            structlog.processors.KeyValueRenderer(
                key_order=["timestamp", "level", "event"], drop_missing=True
            ),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class RedactingStream:
    """Wraps stderr for text that bypasses logging (signalbot prints tracebacks directly).

    Numbers and UUIDs are scrubbed, and pydantic's ``input_value=...`` echo of a
    rejected envelope (which would contain message text) is cut off.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        cleaned = re.sub(r"input_value=.*", "input_value=[redacted]", scrub(text))
        self._inner.write(cleaned)
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(self._inner.isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def guard_stderr() -> None:
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
