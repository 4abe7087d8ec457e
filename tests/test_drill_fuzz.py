"""Fault drill: over 100,000 random and malformed inputs, none crashes the bot and every
one gets a helpful answer in the sender's language, without losing a dialog's answers.

Three layers, sized for CI (about a minute and a half of work, spread over the workers):

- **parsers** (hypothesis, 2 × 25,000 examples): the command split and lookup, and every
  free-form answer parser (yes/no, menus, languages, ids, codes, durations, language
  pairs, roles and skills) take any text without raising;
- **handlers** (52,000 inputs from :class:`tests.fuzzkit.Corpus`, SQLite): ten people in
  ten situations — a stranger, a Spanish-speaking member, an organizer, a coordinator,
  and someone in the middle of each dialog (join, two intake questions, two call-out
  questions, a new role) — each input from the same state through the real router and
  handlers inside a rolled-back savepoint (:class:`tests.fuzzkit.Harness`);
- **the whole inbound path** (1,000 inputs per backend): through ``Dispatcher.on_text``
  (journal, one transaction, outbox), on SQLite *and* PostgreSQL, which stores what
  SQLite would forgive (a NUL byte in text, for one).

A failure lists the first inputs (repr) and what was wrong with the answer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import LanternApp
from bot.i18n import normalise_language, parse_three_way, parse_yes_no, translate
from bot.roles import file_catalogue, parse_pairs
from bot.router import split_command
from bot.when import WhenProblem, parse_duration, parse_when
from handlers import build_router
from handlers.skills import parse_duration as pause_duration
from security.codes import normalise_case_ref, normalise_code
from storage.callouts import normalise_callout_ref
from storage.repositories import Repositories
from tests.casework import ANSWERS_ES, open_intake
from tests.conftest import Chat, new_account
from tests.fuzzkit import Corpus, Harness, english_only, judge
from tests.helpers import join
from tests.network import Network, invite

pytestmark = pytest.mark.timeout(400)

ROUTER = build_router()
WORDS = sorted(ROUTER._by_word)
CATALOGUE = file_catalogue(None)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FUZZ = settings(
    max_examples=25_000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TEXT = st.one_of(
    st.text(max_size=400),
    st.builds(lambda w, t: f"{w} {t}", st.sampled_from(WORDS), st.text(max_size=60)),
)


# --- parsers -----------------------------------------------------------------------------


@FUZZ
@given(TEXT)
def test_fuzz_command_split_and_lookup_take_any_text(text: str) -> None:
    word, rest = split_command(text)
    assert " " not in word and "\n" not in word
    assert rest == rest.strip()
    ROUTER.lookup(word)
    ROUTER._by_shape(text)


@FUZZ
@given(TEXT)
def test_fuzz_answer_parsers_take_any_text(text: str) -> None:
    assert parse_yes_no(text) in (True, False, None)
    assert parse_three_way(text) in ("yes", "no", "unsure", None)
    normalise_language(text)
    normalise_callout_ref(text)
    normalise_case_ref(text)
    normalise_code(text)
    parse_duration(text)
    pause_duration(text)
    parse_pairs(text)
    CATALOGUE.find_role(text)
    CATALOGUE.find_skill(text)


@settings(max_examples=1_500, derandomize=True, database=None, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_when_parser_raises_only_its_own_problem(text: str) -> None:
    """The call-out's "when" goes through dateparser: the slowest parser, fewer examples."""
    with contextlib.suppress(WhenProblem):
        parse_when(text, now=datetime(2026, 11, 22, 12, tzinfo=UTC), timezone="Europe/Madrid")


# --- handlers, from ten situations -----------------------------------------------------

Setup = Callable[[Chat, Network], Awaitable[tuple[str, str]]]


async def stranger(chat: Chat, net: Network) -> tuple[str, str]:
    return new_account(), "en"


async def member_es(chat: Chat, net: Network) -> tuple[str, str]:
    who = new_account()
    await join(chat, net, who, "ana", lang="es")
    return who, "es"


async def organizer(chat: Chat, net: Network) -> tuple[str, str]:
    return net.organizer, "en"


async def coordinator(chat: Chat, net: Network) -> tuple[str, str]:
    return net.coordinators[0], "en"


async def joining(chat: Chat, net: Network) -> tuple[str, str]:
    who = new_account()
    await chat.send(who, f"join {await invite(chat, net, 'member')}")
    return who, "en"  # no language chosen yet: the default answers


async def intake_first(chat: Chat, net: Network) -> tuple[str, str]:
    who, language = await member_es(chat, net)
    await open_intake(chat, net)
    await chat.send(who, "lucha")
    return who, language


async def intake_menu(chat: Chat, net: Network) -> tuple[str, str]:
    who, language = await intake_first(chat, net)
    for answer in ANSWERS_ES[:5]:
        await chat.send(who, answer)
    return who, language


async def callout_when(chat: Chat, net: Network) -> tuple[str, str]:
    await chat.send(net.organizer, "callout")
    await chat.send(net.organizer, "Picket at the office")
    return net.organizer, "en"


async def callout_later(chat: Chat, net: Network) -> tuple[str, str]:
    who, language = await callout_when(chat, net)
    for answer in ("in 3 days at 6pm", "12 Oak St", "10"):
        await chat.send(who, answer)
    return who, language


async def addrole(chat: Chat, net: Network) -> tuple[str, str]:
    await chat.send(net.coordinators[0], "addrole")
    return net.coordinators[0], "en"


SITUATIONS: dict[str, tuple[Setup, int, str | None]] = {
    # name: (setup, inputs, the dialog flow it must be in, if any)
    "stranger": (stranger, 7_000, None),
    "member_es": (member_es, 7_000, None),
    "organizer": (organizer, 6_000, None),
    "coordinator": (coordinator, 6_000, None),
    "join": (joining, 5_000, "join"),
    "intake_first": (intake_first, 5_000, "intake"),
    "intake_menu": (intake_menu, 5_000, "intake"),
    "callout_when": (callout_when, 3_000, "callout"),
    "callout_later": (callout_later, 4_000, "callout"),
    "addrole": (addrole, 4_000, "addrole"),
}


@SQLITE
@pytest.mark.parametrize("situation", list(SITUATIONS))
async def test_fuzz_every_input_gets_a_helpful_answer(
    situation: str, net: Network, chat: Chat, app: LanternApp
) -> None:
    setup, count, flow = SITUATIONS[situation]
    who, language = await setup(chat, net)
    harness = Harness(app, chat.dispatcher)
    wrong = english_only()
    texts = Corpus(WORDS, seed=sum(map(ord, situation))).take(count)
    started = time.perf_counter()
    outcomes = await harness.run(who, texts)
    seconds = time.perf_counter() - started
    start = outcomes[0].dialog_before
    assert (start[0] if start else None) == flow, f"set-up left {start!r}"
    bad = []
    for text, outcome in zip(texts, outcomes, strict=True):
        why = judge(text, outcome, language=language, wrong=wrong)
        if why is not None:
            bad.append(f"{why}: {text[:80]!r} -> {outcome.replies[:1]!r}")
    print(f"\n{situation} ({start[1] if start else '-'}): {count} inputs in {seconds:.1f} s")
    assert not bad, f"{len(bad)} of {count} inputs were not answered well:\n" + "\n".join(bad[:12])


# --- the whole inbound path, both backends -----------------------------------------------


async def test_fuzz_the_full_inbound_path_answers_everything(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    who, _language = await member_es(chat, net)
    outsider = new_account()
    texts = Corpus(WORDS, seed=7).take(1_000)
    internal = {translate(lang, "error.internal") for lang in ("en", "es")}
    silent, crashed = [], []
    started = time.perf_counter()
    for i, text in enumerate(texts):
        sender = who if i % 2 else outsider
        replies = await chat.send(sender, text)
        if not replies:
            silent.append(text)
        if internal & set(replies):
            crashed.append(text)
        if i % 97 == 0 and sender == who:  # the dialog a text may have opened ends here
            await chat.send(who, "cancelar")
    seconds = time.perf_counter() - started
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        pending = await Repositories(session, keys).journal.pending()
    print(f"\nfull path: {len(texts)} inputs in {seconds:.1f} s")
    assert not crashed, [t[:60] for t in crashed[:10]]
    assert not silent, [t[:60] for t in silent[:10]]
    assert pending == [], "a message was journaled and never handled"
