"""The role and skill catalogue, and availability by time of day.

The catalogue starts from a TOML file (``bot/roles.toml`` or ``LANTERN_ROLES_FILE``) and
is changed by coordinators in the database (added or retired roles, see
:mod:`storage.roles`): :meth:`Catalogue.with_changes` merges the two.  Matching what a
person typed to a role is forgiving on purpose — any language, plurals, accents, the
``/a`` of Spanish names, aliases — because "signup legal observers" and "apuntar
observadora legal" must both work from a phone keyboard.

Availability is a small bit set: four parts of the day and weekdays/weekends.  A member
who set nothing is available any time; one who set only day parts is available on any
day in those parts, and so on.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from babel import Locale

from bot.config import SUPPORTED_LANGUAGES, ConfigError
from bot.i18n import _

DEFAULT_FILE = Path(__file__).with_name("roles.toml")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
LANGUAGE_SKILL = "lang:"  # "lang:es": speaks Spanish
PAIR = re.compile(r"^([a-z]{2})\s*[-/>]\s*([a-z]{2})$")
PAIR_NAMES = re.compile(r"^(\w+)\s*[-/>]\s*(\w+)$")  # "english-spanish", "inglés>árabe"
SLASH_ENDING = re.compile(r"/[a-z]{1,2}\b")  # Spanish "/a", "/as" endings

# --- availability --------------------------------------------------------------------

MORNING, AFTERNOON, EVENING, NIGHT, WEEKDAYS, WEEKENDS = (1 << i for i in range(6))
DAY_PARTS = MORNING | AFTERNOON | EVENING | NIGHT
DAYS = WEEKDAYS | WEEKENDS
AVAILABILITY_WORDS: dict[str, int] = {
    "morning": MORNING,
    "mornings": MORNING,
    "mañana": MORNING,
    "mañanas": MORNING,
    "afternoon": AFTERNOON,
    "afternoons": AFTERNOON,
    "tarde": AFTERNOON,
    "tardes": AFTERNOON,
    "evening": EVENING,
    "evenings": EVENING,
    "noche": EVENING,
    "noches": EVENING,
    "night": NIGHT,
    "nights": NIGHT,
    "madrugada": NIGHT,
    "madrugadas": NIGHT,
    "weekday": WEEKDAYS,
    "weekdays": WEEKDAYS,
    "entre semana": WEEKDAYS,
    "laborables": WEEKDAYS,
    "weekend": WEEKENDS,
    "weekends": WEEKENDS,
    "fin de semana": WEEKENDS,
    "fines de semana": WEEKENDS,
}
# the name shown back for each bit (message ids)
AVAILABILITY_NAMES = {
    MORNING: _("avail.morning"),
    AFTERNOON: _("avail.afternoon"),
    EVENING: _("avail.evening"),
    NIGHT: _("avail.night"),
    WEEKDAYS: _("avail.weekdays"),
    WEEKENDS: _("avail.weekends"),
}


def part_of_day(local: datetime) -> int:
    """06–12 morning, 12–18 afternoon, 18–23 evening, 23–06 night (local time)."""
    hour = local.hour
    if 6 <= hour < 12:
        return MORNING
    if 12 <= hour < 18:
        return AFTERNOON
    if 18 <= hour < 23:
        return EVENING
    return NIGHT


def available(mask: int | None, local: datetime) -> bool:
    """Whether someone with this availability can make an action at ``local`` time."""
    if not mask:
        return True
    parts, days = mask & DAY_PARTS, mask & DAYS
    if parts and not parts & part_of_day(local):
        return False
    day = WEEKENDS if local.weekday() >= 5 else WEEKDAYS
    return not days or bool(days & day)


# --- matching --------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lowercase, no accents, single spaces, ``-``/``_`` as spaces: for matching only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").replace("_", " ").split())


def _singular(word: str) -> str:
    for suffix in ("es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


def _forms(word: str) -> set[str]:
    """A name as typed, without a Spanish ``/a`` ending, and with each word singular
    ("legal observers", "cocineras de campaña")."""
    folded = fold(word)
    forms = {folded}
    if "/" in folded:  # "observador/a legal" -> "observador legal" (words after it kept,
        # so "traductor/a en-es" is not the role's name: the pairs stay for the caller)
        forms.add(" ".join(SLASH_ENDING.sub("", folded).split()))
    for form in list(forms):
        forms.add(_singular(form))
        forms.add(" ".join(_singular(w) for w in form.split()))
    return forms


# --- the catalogue ---------------------------------------------------------------------


@dataclass(frozen=True)
class RoleDef:
    key: str
    names: Mapping[str, str]  # language -> name
    descriptions: Mapping[str, str]  # language -> one sentence
    aliases: tuple[str, ...] = ()
    pairs: bool = False  # takes language pairs (translator)
    custom: bool = False  # added by coordinators
    retired: bool = False

    def name(self, language: str) -> str:
        return self.names.get(language) or next(iter(self.names.values()))

    def description(self, language: str) -> str:
        return self.descriptions.get(language) or next(iter(self.descriptions.values()))

    def words(self) -> frozenset[str]:
        return self._words

    @functools.cached_property
    def _words(self) -> frozenset[str]:
        """Every form of every name, made once: matching runs for each word people type."""
        return _all_forms(self.key, *self.names.values(), *self.aliases)


def _all_forms(*texts: str) -> frozenset[str]:
    found: set[str] = set()
    for text in texts:
        found |= _forms(text)
    return frozenset(found)


@dataclass(frozen=True)
class SkillDef:
    key: str
    names: Mapping[str, str]
    aliases: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        if self.key.startswith(LANGUAGE_SKILL):
            code = self.key.removeprefix(LANGUAGE_SKILL)
            found = Locale.parse(language).languages.get(code)
            return str(found or code)
        return self.names.get(language) or next(iter(self.names.values()))

    @functools.cached_property
    def words(self) -> frozenset[str]:
        return _all_forms(self.key, *self.names.values(), *self.aliases)


@dataclass(frozen=True)
class Catalogue:
    roles: Mapping[str, RoleDef]  # every role ever known, retired ones included
    skills: Mapping[str, SkillDef] = field(default_factory=dict)

    def active(self) -> list[RoleDef]:
        return [r for r in self.roles.values() if not r.retired]

    def get(self, key: str) -> RoleDef | None:
        return self.roles.get(key)

    def find_role(self, text: str, *, include_retired: bool = False) -> RoleDef | None:
        """The role someone means by ``text`` (any language, plural, alias), or None."""
        wanted = _forms(text)
        if not wanted:
            return None
        for role in self.roles.values():
            if (include_retired or not role.retired) and wanted & role.words():
                return role
        return None

    def find_skill(self, text: str) -> str | None:
        """A skill key (``car``, ``lang:es``) from a word, or None."""
        wanted = _forms(text)
        for skill in self.skills.values():
            if wanted & skill.words:
                return skill.key
        return language_skill(text)

    def skill_name(self, key: str, language: str) -> str:
        found = self.skills.get(key)
        if found is None and key.startswith(LANGUAGE_SKILL):
            found = SkillDef(key, {})
        return key if found is None else found.name(language)

    def with_changes(self, custom: Iterable[RoleDef], retired: Iterable[str]) -> Catalogue:
        """The file's catalogue with the coordinators' changes from the database."""
        roles = dict(self.roles)
        for role in custom:
            roles[role.key] = role
        for key in retired:
            if key in roles:
                roles[key] = replace(roles[key], retired=True)
        return Catalogue(roles=roles, skills=self.skills)


def language_skill(text: str) -> str | None:
    """``es``, ``spanish``, ``español`` -> ``lang:es`` (names in every supported language)."""
    folded = fold(text)
    if re.fullmatch(r"[a-z]{2}", folded):
        return LANGUAGE_SKILL + folded
    code = _language_codes().get(folded)
    return None if code is None else LANGUAGE_SKILL + code


@functools.cache
def _language_codes() -> dict[str, str]:
    """Folded language name (in every supported language) -> two-letter code.  Built once:
    folding Babel's few hundred names for every word typed cost ~1.5 ms a word."""
    codes: dict[str, str] = {}
    for language in SUPPORTED_LANGUAGES:  # the first match wins, as names are read
        for code, name in Locale.parse(language).languages.items():
            if len(code) == 2:
                codes.setdefault(fold(name), str(code))
    return codes


def parse_pairs(text: str) -> str | None:
    """``en-es, es>ar`` -> ``en-es,es-ar`` (a translator's language pairs), or None.

    Language names in any supported language are read too (``english-spanish``,
    ``inglés-árabe``), because people write what they say."""
    pairs = []
    for part in re.split(r"[,;]|\s+(?:and|y|e|&)\s+|\s+(?=\w+\s*[-/>])", text.casefold()):
        part = part.strip()
        if not part:
            continue
        found = PAIR.match(part) or PAIR_NAMES.match(part)
        if found is None:
            return None
        left, right = (language_skill(found.group(i)) for i in (1, 2))
        if left is None or right is None or left == right:
            return None
        pairs.append(f"{left.removeprefix(LANGUAGE_SKILL)}-{right.removeprefix(LANGUAGE_SKILL)}")
    return ",".join(dict.fromkeys(pairs)) or None


# --- loading ---------------------------------------------------------------------------


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check the catalogue file; :class:`ConfigError` lists every problem."""
    source = path or DEFAULT_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"roles file {source}: {exc}") from None
    problems: list[str] = []
    roles = {key: _role(key, raw, problems) for key, raw in data.get("roles", {}).items()}
    skills = {key: _skill(key, raw, problems) for key, raw in data.get("skills", {}).items()}
    if not roles:
        problems.append("no [roles.<key>] entries")
    if problems:
        raise ConfigError("\n".join(f"roles file {source}: {p}" for p in problems))
    return Catalogue(roles=roles, skills=skills)


def _role(key: str, raw: dict[str, Any], problems: list[str]) -> RoleDef:
    if not KEY.match(key):
        problems.append(f"role key {key!r}: lowercase letters, digits and _ only")
    names, descriptions = {}, {}
    for language in SUPPORTED_LANGUAGES:
        entry = raw.get(language)
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("description"):
            problems.append(f"role {key}: needs {language} = {{ name = …, description = … }}")
            continue
        names[language] = str(entry["name"])
        descriptions[language] = str(entry["description"])
    aliases = tuple(str(a) for a in raw.get("aliases", []))
    return RoleDef(key, names, descriptions, aliases, pairs=bool(raw.get("pairs", False)))


def _skill(key: str, raw: dict[str, Any], problems: list[str]) -> SkillDef:
    if not KEY.match(key):
        problems.append(f"skill key {key!r}: lowercase letters, digits and _ only")
    names = {}
    for language in SUPPORTED_LANGUAGES:
        if not raw.get(language):
            problems.append(f"skill {key}: needs {language} = …")
            continue
        names[language] = str(raw[language])
    return SkillDef(key, names, tuple(str(a) for a in raw.get("aliases", [])))


# --- the catalogue in force --------------------------------------------------------------


@lru_cache(maxsize=4)
def file_catalogue(path: Path | None) -> Catalogue:
    """The file's catalogue, read once per path (checked at start by the app)."""
    return load_catalogue(path)


class RoleChanges(Protocol):
    async def changes(self) -> tuple[list[Any], set[str]]: ...


async def catalogue_of(roles_file: Path | None, changes: RoleChanges) -> Catalogue:
    """The catalogue in force: the file's, with the coordinators' changes (one query)."""
    custom, retired = await changes.changes()
    added = [
        RoleDef(c.key, c.names, c.descriptions, custom=True)
        for c in custom  # storage.roles.CustomRole
    ]
    return file_catalogue(roles_file).with_changes(added, retired)
