"""Fuzzing helpers: a reproducible corpus of hostile texts, and a harness that runs each
one through the real router and handlers from the same starting state.

Every input runs inside a SAVEPOINT that is rolled back afterwards, on one connection:
each one meets exactly the state the scenario set up (the same dialog step, the same
draft), and costs about a millisecond instead of the ~10 ms of the full inbound path
(journal, transactions, outbox), which the full-dispatcher slice of the drill covers.
The Context is built from the same parts :meth:`bot.dispatcher.Dispatcher._handle` uses.
"""

from __future__ import annotations

import copy
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.app import LanternApp
from bot.context import Context
from bot.dispatcher import Dispatcher
from bot.i18n import catalogue, translate
from storage.models import utcnow
from storage.repositories import Repositories

CANCEL_WORDS = frozenset({"cancel", "cancelar", "/cancel", "/cancelar"})
ODD = (
    "\x00",
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\u202e",  # right-to-left override
    "\ufeff",  # byte-order mark
    "\u0301",  # combining acute accent
    "\t",
    "\r\n",
    "\n",
    "\u00a0",
    "🙂",
    "👍🏽",
    "🏳️‍🌈",
    "ß",
    "İ",
    "ǅ",
    "\U0010ffff",
    "\x7f",
    "\x1b[31m",
    "'; DROP TABLE members; --",
    "%s%s%n",
    "{0}{handle}",
    "${jndi:ldap://x}",
    "<script>",
    "../../etc/passwd",
)
NUMBERS = (
    "0",
    "-1",
    "1e309",
    "99999999999999999999",
    "3.5",
    "NaN",
    "½",
    "٣",
    "०",
    "+1 (202) 555-0123",
)
DATES = ("31/02", "mañana", "yesterday", "in -3 days", "25:61", "2099-13-40", "0000-00-00", "now")


@dataclass
class Corpus:
    """Deterministic hostile texts for a seed: command words with garbage, ids that look
    valid but are not, odd characters, long lines, pipes for the one-line forms."""

    words: list[str]
    seed: int

    def __iter__(self) -> Iterator[str]:
        rng = random.Random(self.seed)  # reproducible fuzzing, not crypto
        while True:
            yield self.one(rng)

    def take(self, count: int) -> list[str]:
        out: list[str] = []
        for text in self:
            out.append(text)
            if len(out) == count:
                return out
        return out

    def one(self, rng: random.Random) -> str:
        kind = rng.randrange(10)
        if kind == 0:
            return self._noise(rng, rng.randrange(0, 12))
        if kind == 1:
            return self._noise(rng, rng.randrange(200, 4000))  # long lines
        if kind == 2:
            return rng.choice(("", " ", "\n\n", "\t \u200b", "\u3000"))
        if kind == 3:  # a command word, then junk
            return f"{self._word(rng)} {self._noise(rng, rng.randrange(0, 40))}"
        if kind == 4:  # a command word, then an id of the right shape that exists nowhere
            return f"{self._word(rng)} {self._id(rng)} {rng.choice(('', 'yes', 'no', 'driver'))}"
        if kind == 5:
            return f"{self._word(rng)} {rng.choice(NUMBERS)} {rng.choice(DATES)}"
        if kind == 6:  # the one-line forms
            parts = [self._noise(rng, rng.randrange(0, 10)) for _ in range(rng.randrange(1, 12))]
            return f"{self._word(rng)} " + " | ".join(parts)
        if kind == 7:
            return rng.choice(NUMBERS + DATES)
        if kind == 8:  # case games with real words
            word = self._word(rng)
            return "".join(c.upper() if rng.random() < 0.5 else c for c in word)
        return "".join(rng.choice(ODD) for _ in range(rng.randrange(1, 6))) + self._word(rng)

    def _word(self, rng: random.Random) -> str:
        return rng.choice(self.words)

    @staticmethod
    def _id(rng: random.Random) -> str:
        alphabet = string.ascii_uppercase + string.digits
        shapes = (5, 6, 9, 17)
        size = rng.choice(shapes)
        raw = "".join(rng.choice(alphabet) for _ in range(size))
        if size == 9:
            return raw[:4] + "-" + raw[5:]
        if size == 17:
            return f"{raw[:5]}-{raw[6:11]}-{raw[12:]}"
        return raw

    @staticmethod
    def _noise(rng: random.Random, length: int) -> str:
        pools = (
            string.printable,
            "áéíóúñüÁÉÍÓÚÑ¿¡",
            "".join(ODD),
            "абвгдеёжзий",
            "汉字かなカナ한글",
            "اردو עברית",
        )
        pool = "".join(rng.choice(pools) for _ in range(2))
        return "".join(rng.choice(pool) for _ in range(length))


def english_only() -> frozenset[str]:
    """English catalogue texts that differ from their Spanish ones and take no values: a
    Spanish speaker receiving one of these was answered in the wrong language."""
    en, es = catalogue("en"), catalogue("es")
    return frozenset(
        text for key, text in en.items() if "{" not in text and es.get(key) and es[key] != text
    )


@dataclass
class Outcome:
    replies: list[str]
    dialog_before: tuple[str, str, dict[str, object]] | None
    dialog_after: tuple[str, str, dict[str, object]] | None


@dataclass
class Harness:
    app: LanternApp
    dispatcher: Dispatcher
    problems: list[str] = field(default_factory=list)

    async def run(self, account: str, texts: list[str]) -> list[Outcome]:
        """Each text from the same state; nothing any of them does is kept."""
        keys = self.app.vault.keys
        assert keys is not None
        d = self.dispatcher
        outcomes = []
        async with self.app.db.transaction() as session:
            repos = Repositories(session, keys)
            now = utcnow()
            member = await repos.members.by_account(account)
            organizer = member is not None and await repos.cells.organizes_any(member.id)
            start = await repos.dialogs.get(account, now=now)
            before = None if start is None else (start.flow, start.state, dict(start.data))
            for text in texts:
                savepoint = await session.begin_nested()
                ctx = Context(
                    sender=account,
                    text=text,
                    settings=d.settings,
                    repos=repos,
                    now=now,
                    router=d.router,
                    member=member,
                    dialog=copy.deepcopy(start),
                    network=d.vault.network,
                    is_organizer=organizer,
                    identities=d.messenger,
                    rekey=d.rekeyer,
                )
                await d.router.dispatch(ctx)
                after = await repos.dialogs.get(account, now=now)
                replies = [o.text for o in ctx.outgoing if o.account == account and o.text]
                outcomes.append(
                    Outcome(
                        replies,
                        before,
                        None if after is None else (after.flow, after.state, dict(after.data)),
                    )
                )
                await savepoint.rollback()
            await session.rollback()
        return outcomes


def judge(text: str, outcome: Outcome, *, language: str, wrong: frozenset[str]) -> str | None:
    """Why this answer is not good enough, or None."""
    if not outcome.replies:
        return "no reply"
    if any(not reply.strip() for reply in outcome.replies):
        return "an empty reply"
    if translate(language, "error.internal") in outcome.replies:
        return "internal error"
    if language != "en" and any(reply in wrong for reply in outcome.replies):
        return "a reply in English"
    before, after = outcome.dialog_before, outcome.dialog_after
    word = text.strip().split(maxsplit=1)[0].casefold() if text.strip() else ""
    if before is not None and word not in CANCEL_WORDS:
        if after is None:
            return "the dialog was dropped"
        if after[0] != before[0]:
            return "the dialog changed flow"
        lost = [k for k in before[2] if k not in after[2]]
        if lost and after[1] == before[1]:
            return f"answers already given were lost: {lost}"
    return None
