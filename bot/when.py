"""Reading times and durations as organizers type them, in English and Spanish.

``parse_when`` reads a date and time ("saturday 10:00", "mañana a las 7 de la tarde",
"in 2 hours") in the network's time zone, relative to *now*, preferring the future, and
returns UTC to the minute.  It says *why* it could not (unreadable, no time of day, in
the past) so the dialog can answer with a helpful example instead of a bare "no".

``parse_duration`` reads how long before an action the place is sent ("2h", "30 min",
"1 day", "1 día").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

LANGUAGES = ["en", "es"]
MAX_AHEAD = timedelta(days=366)

_DAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun|"
    "lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo"
)
# Spanish turns of phrase dateparser 1.5 does not read, rewritten to ones it does.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\bpasado\s+mañana\b", " in 2 days "),
    (r"\b(?:al\s+)?mediod[ií]a\b", " 12:00 "),
    (r"\b(?:a\s+)?medianoche\b", " 00:00 "),
    (r"\b(\d{1,2})\s*h\s*(\d{2})\b", r" \1:\2 "),
    (r"\b(\d{1,2})\s*h(?:rs?)?\b(?!\s*(?:de|before|antes))", r" \1:00 "),
    (r"\ba\s+las?\s+(\d{1,2})\b(?![:.]|\s*(?:am|pm|h)\b)", r" \1:00 "),
    (rf"\b({_DAYS})\s+(\d{{1,2}})\b(?![:./]|\s*(?:am|pm|de|of|h)\b)", r" \1 \2:00 "),
    (r"\ba\s+las?\b", " "),
    (r"\b(?:el|la|los|las|this|este|esta|at|on)\b", " "),
)
_PERIOD = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s+de\s+la\s+(mañana|madrugada|tarde|noche)\b")
_HAS_CLOCK = re.compile(r"\d|\bnoon\b|\bmidnight\b")


class WhenProblem(Exception):
    """Why a time was not accepted: ``unclear``, ``no_time``, ``past`` or ``too_far``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _normalise(text: str) -> str:
    cleaned = " ".join(text.casefold().split())

    def period(match: re.Match[str]) -> str:
        hour, minute, part = int(match.group(1)), match.group(2) or "00", match.group(3)
        if part in ("tarde", "noche") and hour < 12:
            hour += 12
        if part in ("mañana", "madrugada") and hour == 12:
            hour = 0
        return f" {hour:02d}:{minute} "

    cleaned = _PERIOD.sub(period, cleaned)
    for pattern, replacement in _REWRITES:
        cleaned = re.sub(pattern, replacement, cleaned)
    return " ".join(cleaned.split())


def to_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def parse_when(text: str, *, now: datetime, timezone: str) -> datetime:
    """The moment meant by ``text`` (UTC, to the minute); raises :class:`WhenProblem`."""
    cleaned = _normalise(text)
    if not cleaned or len(cleaned) > 80:
        raise WhenProblem("unclear")
    zone = ZoneInfo(timezone)
    base = now.astimezone(zone).replace(tzinfo=None)
    found = dateparser.parse(
        cleaned,
        languages=LANGUAGES,
        settings={
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": timezone,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TO_TIMEZONE": "UTC",
        },
    )
    if found is None:
        raise WhenProblem("unclear")
    if not _HAS_CLOCK.search(cleaned):
        raise WhenProblem("no_time")  # "saturday", "tomorrow": at what time?
    moment = to_minute(found)
    if moment <= now:
        raise WhenProblem("past")
    if moment - now > MAX_AHEAD:
        raise WhenProblem("too_far")
    return moment


_DURATION = re.compile(
    r"^(\d{1,3}(?:[.,]\d{1,2})?)\s*"
    r"(h|hr|hrs|hour|hours|hora|horas|m|min|mins|minute|minutes|minuto|minutos"
    r"|d|day|days|día|días|dia|dias)?"
    r"(?:\s+(?:before|antes))?$"
)
_UNIT_MINUTES = {"h": 60, "m": 1, "d": 1440}
MAX_REVEAL = timedelta(days=7)


def parse_duration(text: str) -> timedelta | None:
    """``2h``, ``30 min``, ``1 day``, ``1,5 horas``; a bare number is hours.  None if
    unreadable or longer than a week."""
    found = _DURATION.match(" ".join(text.casefold().split()))
    if found is None:
        return None
    amount = float(found.group(1).replace(",", "."))
    unit = (found.group(2) or "h")[0]
    minutes = round(amount * _UNIT_MINUTES[unit])
    span = timedelta(minutes=minutes)
    return span if span <= MAX_REVEAL else None


def duration_words(span: timedelta) -> str:
    """``2 h``, ``30 min``, ``1 d 2 h``: short and the same in both languages."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{mins} min" if mins else "",
    ]
    return " ".join(p for p in parts if p) or "0 min"
