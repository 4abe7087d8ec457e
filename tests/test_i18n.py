"""Every message a person can receive exists, complete, in every supported language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.config import SUPPORTED_LANGUAGES
from bot.i18n import MissingTranslation, catalogue, placeholders, translate

ROOT = Path(__file__).resolve().parent.parent


def used_ids() -> set[str]:
    ids: set[str] = set()
    for package in ("bot", "handlers"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / package,
            method_map=[("**.py", "python")],
            keywords={"_": None},
        ):
            ids.add(str(message))
    return ids


def test_extraction_finds_the_catalogue_ids() -> None:
    assert {"stranger.reply", "join.privacy", "help.help", "role.member"} <= used_ids()


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_catalogue_has_every_used_id(language: str) -> None:
    missing = used_ids() - set(catalogue(language))
    assert not missing, f"{language} is missing: {sorted(missing)}"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_catalogue_has_no_stale_ids(language: str) -> None:
    stale = set(catalogue(language)) - used_ids()
    assert not stale, f"{language} has ids no code uses: {sorted(stale)}"


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED_LANGUAGES if lang != "en"])
def test_placeholders_match_english(language: str) -> None:
    english = catalogue("en")
    for message_id, text in catalogue(language).items():
        assert placeholders(text) == placeholders(english[message_id]), message_id


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_messages_are_short_enough_for_a_phone(language: str) -> None:
    for message_id, text in catalogue(language).items():
        assert len(text) <= 600, message_id


def test_unknown_id_fails_loudly_instead_of_sending_the_key() -> None:
    with pytest.raises(MissingTranslation):
        translate("es", "no.such.message")
