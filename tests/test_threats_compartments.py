"""Threat tests 8 (cross-cell organizer) and 10 (enumeration by outsiders).
See shared/docs/security-model.md, "Threat tests".
"""

from __future__ import annotations

import random
import re
import statistics
import string
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.app import LanternApp
from bot.i18n import translate
from bot.policy import shown_ref
from bot.ratelimit import RateLimiter
from security.codes import normalise_code
from storage.models import utcnow
from storage.repositories import Repositories
from tests.canary import Canaries
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import REF, Network, code_in

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CONFUSE = str.maketrans({"0": "O", "1": "I", "V": "U"})


class RecordingMessenger(FakeMessenger):
    """Also keeps one ordered list of everything done on Signal, texts and timers."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str, object]] = []

    async def send_text(self, account: str, text: str) -> None:
        await super().send_text(account, text)
        self.events.append((account, "text", text))

    async def set_timer(self, account: str, seconds: int) -> None:
        await super().set_timer(account, seconds)
        self.events.append((account, "timer", seconds))


def generous_limiter() -> RateLimiter:
    return RateLimiter(per_minute=1e9, burst=1_000_000)


# --- threat 8: an organizer of cell A probing cell B -----------------------------------


@dataclass
class OtherCell:
    ref: str
    names: list[str]
    accounts: dict[str, str]  # handle -> account
    ids: list[str] = field(default_factory=list)  # cell id, member ids, data key ids
    council_ref: str = ""
    refs: set[str] = field(default_factory=set)  # every ref that exists


@pytest.fixture
async def cell_b(net: Network, app: LanternApp, chat: Chat) -> OtherCell:
    """Cell B with its own organizer and members (one of them quarantined), created and
    staffed the way a coordinator and B's organizer would."""
    chat.dispatcher.limiter = generous_limiter()
    c1 = net.coordinators[0]
    name = "Harbourside dockers zqvx"
    found = REF.search(await chat.say(c1, f"cell new {name}"))
    assert found is not None
    ref = found.group(1)
    accounts = {}
    for handle, inviter, role in (
        ("bosun_kwrt", c1, "organizer"),
        ("rigger_plmz", None, "member"),
        ("stevedore_qnx", None, "member"),
    ):
        account = new_account()
        code = code_in(await chat.send(inviter or accounts["bosun_kwrt"], f"invite {ref} {role}"))
        for said in (f"join {code}", "1", handle):
            await chat.send(account, said)
        assert "Welcome" in await chat.say(account, "yes")
        accounts[handle] = account
    renamed = "Harbourside night shift yzzq"
    await chat.send(accounts["bosun_kwrt"], f"cell rename {ref} {renamed}")
    async with app.db.transaction() as session:
        repos = Repositories(session, app.vault.keys)
        quarantined = await repos.members.by_account(accounts["stevedore_qnx"])
        assert quarantined is not None
        await repos.members.quarantine(quarantined.id, now=utcnow())
        cell = await repos.cells.by_ref(ref)
        council = await repos.cells.council()
        assert cell is not None and council is not None
        ids = [cell.id]
        for account in accounts.values():
            member = await repos.members.by_account(account)
            assert member is not None
            ids.append(member.id)
        keys_of_b = await session.scalars(
            text("SELECT id FROM data_keys WHERE cell_id = :c"), {"c": cell.id}
        )
        ids += [str(r) for r in keys_of_b.all()]
        refs = set((await session.scalars(text("SELECT ref FROM cells"))).all())
    return OtherCell(ref, [name, renamed], accounts, ids, council.ref, refs)


def _fresh_ref(taken: set[str], rnd: random.Random) -> str:
    while True:
        ref = "".join(rnd.choice(ALPHABET) for _ in range(5))
        if ref not in taken:
            return ref


def command_words(app: LanternApp) -> list[str]:
    """Every word the router knows (names and aliases), plus the dispatcher's own."""
    words = sorted(app.router._by_word)
    return [*words, "unseal", "desellar", "approve", "aprobar"]


TEMPLATES = (
    "{w} {id}",
    "{w} {id} member",
    "{w} {id} organizer",
    "{w} {id} organizadora",
    "{w} rename {id} Quiet name",
    "{w} renombrar {id} {id}",
    "{w} retire {id}",
    "{w} new {id}",
    "{w} {id} 12345 67890 12345 67890",
    "{w}  /{id}",
    "{id}",
)


def normalise(replies: list[str], typed: str) -> list[str]:
    """Replace only what the sender typed (and the tidied echo of it) by a marker."""
    forms = {typed, typed[:20], shown_ref(typed), typed.upper(), typed.strip()}
    out = []
    for reply in replies:
        for form in sorted((f for f in forms if len(f) >= 3), key=len, reverse=True):
            reply = reply.replace(form, "<ID>")
        out.append(reply)
    return out


def leaks(replies: list[str], other: OtherCell, canaries: Canaries) -> list[str]:
    joined = "\n".join(replies)
    found = canaries.hits(joined)
    found += [i for i in other.ids if i in joined]
    for word in [other.ref, *other.accounts, *other.names]:
        if re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", joined, re.IGNORECASE):
            found.append(word)
    return found


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_organizer_of_one_cell_learns_nothing_of_another(
    data: st.DataObject, net: Network, app: LanternApp, chat: Chat, cell_b: OtherCell
) -> None:
    """Threat 8: the organizer of cell A sends every command word with fuzzed ids —
    B's real ref (as typed, lower case, with dashes, with look-alike letters), the
    council's ref, B's organizer's and members' handles (one quarantined), B's name,
    random valid-looking refs and handles, garbage.  The replies hold no name, ref,
    handle, account or id of B, and the reply about a real id of B is byte-identical to
    the reply about a random one once the echoed id is normalised."""
    canaries = _b_canaries(cell_b)
    rnd = random.Random(data.draw(st.integers(0, 2**32)))
    word = data.draw(st.sampled_from(command_words(app)), label="word")
    template = data.draw(st.sampled_from(TEMPLATES), label="template")
    kind = data.draw(st.sampled_from(["ref", "council", "handle", "name", "garbage"]))
    if kind in ("ref", "council"):
        real = cell_b.ref if kind == "ref" else cell_b.council_ref
        fake = _fresh_ref(cell_b.refs, rnd)
        shape = data.draw(st.sampled_from(["as is", "lower", "dashed", "confusable"]))
        real, fake = (_shape(x, shape) for x in (real, fake))
    elif kind == "handle":
        real = data.draw(st.sampled_from(sorted(cell_b.accounts)))
        fake = "".join(rnd.choice(string.ascii_lowercase) for _ in range(len(real)))
    elif kind == "name":
        # the same length: an echo of what was typed is cut at a fixed length, so a
        # shorter fake would show more of the rest of the command than the real name does
        real = cell_b.names[-1]
        fake = "Harbourside " + "".join(rnd.choice(string.ascii_lowercase) for _ in real[12:])
    else:
        real = fake = data.draw(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()))
    replies = {}
    for label, typed in (("real", real), ("fake", fake)):
        command = template.format(w=word, id=typed)
        replies[label] = await probe(chat, net.organizer, command, typed, cell_b, canaries)
    if kind != "garbage":
        assert replies["real"] == replies["fake"]


async def probe(
    chat: Chat, organizer: str, command: str, typed: str, other: OtherCell, canaries: Canaries
) -> list[str]:
    """Send one command (then CANCEL if it opened a dialog); check that only the sender
    was messaged and nothing of cell B leaked; return the replies, echo normalised."""
    before = len(chat.messenger.sent)
    await chat.send(organizer, command)
    if await _in_dialog(chat, organizer):
        await chat.send(organizer, "cancel")
    sent = chat.messenger.sent[before:]
    assert {a for a, _ in sent} <= {organizer}, "nobody else was messaged"
    replies = normalise([t for _, t in sent], typed)
    assert leaks(replies, other, canaries) == [], command
    return replies


async def _in_dialog(chat: Chat, account: str) -> bool:
    dispatcher = chat.dispatcher
    async with dispatcher.db.transaction() as session:
        repos = Repositories(session, dispatcher.vault.keys)
        return await repos.dialogs.get(account, now=utcnow()) is not None


async def test_organizer_every_command_about_another_cell_reads_as_random(
    net: Network, app: LanternApp, chat: Chat, cell_b: OtherCell
) -> None:
    """Threat 8, exhaustively over command names and templates: B's real ref and a
    random unused ref give identical replies; so do B's organizer's handle and a random
    handle, for every command name."""
    canaries = _b_canaries(cell_b)
    rnd = random.Random(8)
    names = [*sorted({c.name for c in app.router._commands}), "unseal", "approve"]
    pairs = 0
    for word in names:
        for template in TEMPLATES:
            for real in (cell_b.ref, "bosun_kwrt"):
                if real == cell_b.ref:
                    fake = _fresh_ref(cell_b.refs, rnd)
                else:
                    fake = "".join(rnd.choice(string.ascii_lowercase) for _ in range(len(real)))
                got = [
                    await probe(
                        chat, net.organizer, template.format(w=word, id=x), x, cell_b, canaries
                    )
                    for x in (real, fake)
                ]
                assert got[0] == got[1], template.format(w=word, id=real)
                pairs += 1
    print(
        f"\ncross-cell sweep: {len(names)} commands x {len(TEMPLATES)} templates x 2 ids: "
        f"{pairs} real/random pairs identical, 0 leaks"
    )


def _shape(ref: str, shape: str) -> str:
    if shape == "lower":
        return ref.lower()
    if shape == "dashed":
        return f"{ref[:2]}-{ref[2:]}"
    if shape == "confusable":
        return ref.translate(CONFUSE)
    return ref


def _b_canaries(other: OtherCell) -> Canaries:
    c = Canaries()
    for handle, account in other.accounts.items():
        c.add_uuid(handle, account)
    for i, name in enumerate(other.names):
        c.add_text(f"name{i}", name)
    return c


async def test_cross_cell_check_catches_a_leak(cell_b: OtherCell) -> None:
    """Positive control for threat 8: the leak check sees B's name, handle and ids."""
    canaries = _b_canaries(cell_b)
    assert leaks([f"in {cell_b.names[-1]}"], cell_b, canaries)
    assert leaks(["ask rigger_plmz"], cell_b, canaries)
    assert leaks([f"ref {cell_b.ref.lower()}"], cell_b, canaries)
    assert leaks([cell_b.ids[1]], cell_b, canaries)
    assert normalise_code(_shape(cell_b.ref, "confusable")) == cell_b.ref


# --- threat 10: enumeration -----------------------------------------------------------

INPUTS = (
    "join ABCDE-FGHJK-MNPQR",
    "join 7QX2M-P4K9R-WD3HA",
    "join nonsense",
    "join",
    "unirse 12345",
    "help",
    "ayuda",
    "?",
    "hello",
    "hola, ¿quién eres? soy de la asamblea",
    "me",
    "cells",
    "leave",
    "cancel",
    "back",
    "yes",
    "status",
    "seal",
    "invite K7Q2M",
    "cell rename K7Q2M x",
    "verify orga",
    "enroll ABCDE-FGHJK-MNPQR",
    "unseal able acid",
    "approve able acid",
    "lang es",
    "",
    "🔥 " + "x" * 300,
)


@dataclass
class Outsiders:
    stranger: str
    former: str
    banned: str

    def all(self) -> dict[str, str]:
        return {"stranger": self.stranger, "former": self.former, "banned": self.banned}


@pytest.fixture
async def outsiders(net: Network, app: LanternApp, chat: Chat) -> Outsiders:
    """Someone who never joined; someone who joined and left; someone who joined and was
    removed and banned.  There is no ban command yet: the ban is written through
    MemberRepository.delete + ban in a test-only transaction, as a removal would."""
    former, banned = new_account(), new_account()
    await join(chat, net, former, "former_m")
    await join(chat, net, banned, "banned_m")
    await chat.send(former, "leave")
    assert await chat.say(former, "yes") == translate("en", "leave.done")
    async with app.db.transaction() as session:
        repos = Repositories(session, app.vault.keys)
        member = await repos.members.by_account(banned)
        assert member is not None
        await repos.members.delete(member.id)
        await repos.members.ban(banned)
    async with app.db.transaction() as session:
        assert await Repositories(session, app.vault.keys).members.is_banned(banned)
    return Outsiders(new_account(), former, banned)


def _events_of(messenger: RecordingMessenger, account: str, start: int) -> list[tuple[str, object]]:
    return [(kind, value) for a, kind, value in messenger.events[start:] if a == account]


async def test_outsiders_get_identical_replies_and_timers(
    net: Network, app: LanternApp, outsiders: Outsiders
) -> None:
    """Threat 10: a stranger, an ex-member and a banned sender get byte-identical texts
    and the same disappearing-timer changes, in the same order, for every input."""
    messenger = RecordingMessenger()
    chat = Chat(app.make_dispatcher(messenger), messenger)
    chat.dispatcher.limiter = generous_limiter()
    chat._ts += 50_000_000
    for said in INPUTS:
        seen = {}
        for label, account in outsiders.all().items():
            start = len(messenger.events)
            await chat.send(account, said)
            seen[label] = _events_of(messenger, account, start)
        assert seen["stranger"], said
        assert seen["former"] == seen["stranger"] == seen["banned"], said
    control = []  # the comparison can see a difference: a member's HELP is another one
    for account in (outsiders.stranger, net.organizer):
        start = len(messenger.events)
        await chat.send(account, "help")
        control.append(_events_of(messenger, account, start))
    assert control[0] != control[1]
    print(f"\nenumeration: {len(INPUTS)} inputs x 3 outsiders: identical texts and timers")


async def test_outsiders_share_one_rate_limit(app: LanternApp, outsiders: Outsiders) -> None:
    """Threat 10: the same rate limit for all three: the same number of answers, then
    the same silence."""
    messenger = RecordingMessenger()
    chat = Chat(app.make_dispatcher(messenger), messenger)
    chat._ts += 60_000_000
    chat.dispatcher.limiter = RateLimiter(clock=lambda: 1000.0)  # defaults, frozen time
    answered = {}
    for label, account in outsiders.all().items():
        answered[label] = sum([bool(await chat.send(account, "hello")) for _ in range(30)])
    assert len(set(answered.values())) == 1 and 0 < answered["stranger"] < 30, answered


TRIALS = 500


async def test_outsiders_latency_medians_within_5ms(
    app: LanternApp, outsiders: Outsiders, database_url: str
) -> None:
    """Threat 10 timing: 500 messages each from the three outsiders, interleaved in a
    random order per round, through the real dispatcher (journal, handling, replies):
    the medians differ by less than 5 ms, and every reply stays identical."""
    messenger = RecordingMessenger()
    chat = Chat(app.make_dispatcher(messenger), messenger)
    chat.dispatcher.limiter = generous_limiter()
    chat._ts += 70_000_000
    dispatcher = chat.dispatcher
    people = outsiders.all()
    took: dict[str, list[float]] = {label: [] for label in people}
    replies: dict[str, list[tuple[str, object]]] = {label: [] for label in people}
    rnd = random.Random(10)
    for trial in range(TRIALS):
        said = INPUTS[trial % len(INPUTS)]
        order = list(people.items())
        rnd.shuffle(order)
        for label, account in order:
            start = len(messenger.events)
            began = time.perf_counter()
            await dispatcher.on_text(account, chat.next_ts(), said)
            took[label].append(time.perf_counter() - began)
            replies[label] += _events_of(messenger, account, start)
    medians = {label: statistics.median(times) * 1000 for label, times in took.items()}
    spread = max(medians.values()) - min(medians.values())
    print(
        f"\nenumeration latency ({database_url.split(':')[0]}, {TRIALS} trials each): "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in medians.items())
        + f"; spread {spread:.2f} ms"
    )
    assert replies["stranger"] == replies["former"] == replies["banned"]
    assert spread < 5.0
