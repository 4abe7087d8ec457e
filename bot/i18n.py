"""Message catalogue.

Message ids are stable keys (``"join.ask_handle"``), not English sentences, so that the
English text can be edited without touching code and so that *both* English and
Spanish catalogues must be complete: a test extracts every ``_("...")`` id from the code
with Babel and fails on a missing, empty or fuzzy translation or a placeholder mismatch.

Catalogues are gettext ``.po`` files read once with Babel at start: translators use the
usual tools, and there is no compiled ``.mo`` step to forget.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "lantern"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def _(message_id: str) -> str:
    """Marks a message id for extraction; translation happens per recipient, later."""
    return message_id


class MissingTranslation(KeyError):
    pass


@cache
def catalogue(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {
        str(msg.id): str(msg.string) for msg in parsed if msg.id and msg.string and not msg.fuzzy
    }


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def translate(language: str, message_id: str, /, **values: object) -> str:
    """The text in ``language``, falling back to English, then failing loudly.

    Failing loudly matters: a silent fallback to the raw id would send a person
    ``join.ask_handle`` instead of a question.
    """
    for lang in (language, "en"):
        if lang in SUPPORTED_LANGUAGES:
            template = catalogue(lang).get(message_id)
            if template is not None:
                return template.format(**values)
    raise MissingTranslation(message_id)


def normalise_language(raw: str) -> str | None:
    """Accept codes, names and numbers from the language menu ("2", "es", "Español")."""
    word = raw.strip().casefold()
    by_number = {str(i): code for i, code in enumerate(SUPPORTED_LANGUAGES, start=1)}
    if word in by_number:
        return by_number[word]
    for code, name in LANGUAGE_NAMES.items():
        if word in (code, name.casefold(), name.casefold().replace("ñ", "n")):
            return code
    aliases = {"english": "en", "ingles": "en", "inglés": "en", "spanish": "es"}
    return aliases.get(word)


def language_menu() -> str:
    return "\n".join(
        f"{i}. {LANGUAGE_NAMES[code]}" for i, code in enumerate(SUPPORTED_LANGUAGES, start=1)
    )


_YES = frozenset({"yes", "y", "ok", "okay", "sure", "si", "sí", "s", "claro", "vale", "1"})
_NO = frozenset({"no", "n", "nope", "2"})


def parse_yes_no(raw: str) -> bool | None:
    """Yes/no in any supported language; None when unclear, so the caller re-asks."""
    word = raw.strip().casefold().strip(".!¡¿?")
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None


_UNSURE = frozenset(
    {
        "3",
        "not sure",
        "unsure",
        "maybe",
        "dont know",
        "don't know",
        "no sé",
        "no se",
        "quizás",
        "quizas",
        "quizá",
        "quiza",
        "tal vez",
        "?",
    }
)


def parse_three_way(raw: str) -> str | None:
    """``yes``, ``no`` or ``unsure`` (menu 1 / 2 / 3) in any supported language."""
    word = raw.strip().casefold().strip(".!¡¿")
    if word in _UNSURE:
        return "unsure"
    decision = parse_yes_no(word)
    return None if decision is None else ("yes" if decision else "no")
