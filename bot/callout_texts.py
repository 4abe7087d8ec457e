"""What people read about a call-out, in *their* language (never the sender's).

The invitation says what, when, how many, which roles, the campaign step and how to
answer — never the place.  The place only ever appears in :func:`place_line`, which is
sent as need-to-know content to people who said yes, from the reveal time on.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.casework import rung_text
from bot.config import Settings
from bot.i18n import _, translate
from storage.callouts import CalloutView, Slot

SHORT = "EEE d MMM, HH:mm"
LONG = "EEEE d MMMM y, HH:mm"
SLOTS_MAX = 10
SLOT_NAME_MAX = 40
SLOT_NEED_MAX = 99
NONE_WORDS = frozenset({"none", "no", "-", "nada", "ninguno", "ninguna", "ningún", "ningun", "0"})
ANSWER_WORDS = {"yes": _("word.yes"), "no": _("word.no"), "maybe": _("callout.word_maybe")}
STATUS_WORDS = {
    "scheduled": _("callout.status_scheduled"),
    "sending": _("callout.status_sending"),
    "sent": _("callout.status_sent"),
    "cancelled": _("callout.status_cancelled"),
    "done": _("callout.status_done"),
}


def when_text(settings: Settings, language: str, moment: datetime, pattern: str = SHORT) -> str:
    return str(
        format_datetime(moment, pattern, tzinfo=ZoneInfo(settings.timezone), locale=language)
    )


# --- role slots ----------------------------------------------------------------------

_SLOT = re.compile(r"^(?:(\d{1,2})\s*[x×]?\s+)?(.+)$")


def parse_slots(text: str) -> list[Slot] | None:
    """``2 drivers, 1 legal observer, 1 translator es-en`` (or ``none``); None if
    unreadable.  A role without a number needs one person."""
    cleaned = " ".join(text.split())
    if cleaned.casefold() in NONE_WORDS:
        return []
    parts = [p.strip() for p in re.split(r"[,;\n]|\s+and\s+|\s+y\s+", cleaned) if p.strip()]
    slots: list[Slot] = []
    for part in parts:
        found = _SLOT.match(part)
        if found is None:
            return None
        need = int(found.group(1) or 1)
        name = found.group(2).strip(" .")
        if not 1 <= need <= SLOT_NEED_MAX or not name or len(name) > SLOT_NAME_MAX:
            return None
        slots.append(Slot(name, need))
    return slots if 1 <= len(slots) <= SLOTS_MAX else None


def _stem(word: str) -> str:
    word = " ".join(word.casefold().split())
    for suffix in ("es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


def find_slot(slots: tuple[Slot, ...], text: str) -> int | None:
    """A slot by its number (1-based) or its name (plural or singular, any case)."""
    raw = text.strip()
    if raw.isdigit():
        index = int(raw) - 1
        return index if 0 <= index < len(slots) else None
    wanted = _stem(raw)
    if not wanted:
        return None
    for index, slot in enumerate(slots):
        if _stem(slot.name) == wanted:
            return index
    for index, slot in enumerate(slots):
        name = _stem(slot.name)
        if len(wanted) >= 3 and (name.startswith(wanted) or wanted.startswith(name)):
            return index
    return None


def slots_text(
    slots: tuple[Slot, ...], taken: Counter[int] | None = None, held: Counter[int] | None = None
) -> str:
    """``1. driver ×2 · 2. legal observer ×1`` or, with ``taken``, ``driver 1/2``, and
    with ``held`` (places offered in rotation, waiting for an answer) ``driver 1/2 (+1)``."""
    if taken is None:
        return " · ".join(f"{i}. {s.name} ×{s.need}" for i, s in enumerate(slots, start=1))
    held = held or Counter()
    return " · ".join(
        f"{s.name} {taken.get(i, 0)}/{s.need}" + (f" (+{held[i]} 🔁)" if held.get(i) else "")
        for i, s in enumerate(slots)
    )


# --- member texts --------------------------------------------------------------------


def invitation(settings: Settings, language: str, view: CalloutView) -> str:
    """The call-out as a member receives it.  Never the place."""

    def t(message_id: str, **values: object) -> str:
        return translate(language, message_id, **values)

    lines = [
        t(_("callout.invite_head"), ref=view.ref, what=view.what),
        t(_("callout.invite_when"), when=when_text(settings, language, view.starts_at)),
        t(_("callout.invite_people"), wanted=view.wanted),
    ]
    if view.slots:
        lines.append(t(_("callout.invite_slots"), slots=slots_text(view.slots), ref=view.ref))
    if view.rung:
        lines.append(t(_("callout.invite_step"), step=rung_text(language, view.rung)))
    lines.append(t(_("callout.invite_answer"), ref=view.ref))
    lines.append(
        t(_("callout.invite_reveal"), reveal=when_text(settings, language, view.reveal_at))
    )
    return "\n".join(lines)


def place_line(language: str, view: CalloutView) -> str:
    return translate(language, _("callout.place"), ref=view.ref, where=view.where)


def reminder(settings: Settings, language: str, view: CalloutView, *, place: bool) -> str:
    text = translate(
        language,
        _("callout.reminder"),
        ref=view.ref,
        what=view.what,
        when=when_text(settings, language, view.starts_at),
    )
    return f"{text}\n{place_line(language, view)}" if place else text


def nudge(settings: Settings, language: str, view: CalloutView) -> str:
    return translate(
        language,
        _("callout.nudge"),
        ref=view.ref,
        what=view.what,
        when=when_text(settings, language, view.starts_at),
    )


def answer_word(language: str, answer: str | None) -> str:
    if answer is None:
        return translate(language, _("callout.word_none"))
    return translate(language, ANSWER_WORDS[answer])


def status_word(language: str, status: str) -> str:
    return translate(language, STATUS_WORDS.get(status, STATUS_WORDS["done"]))
