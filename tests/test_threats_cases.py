"""Threat tests for cases (shared/docs/security-model.md, "Threat tests"): 8 cross-cell,
9 infiltrator member, the subject's compartment, 1 cold copy, 4 shredding, and ballot
secrecy at rest; each through the real dispatcher, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import LanternApp
from bot.i18n import translate
from security import Keyring
from security.codes import normalise_case_ref
from storage.db import is_sqlite
from storage.keystore import KeyMissingError
from storage.models import utcnow
from storage.repositories import Repositories
from storage.routing import site_words
from tests.canary import AtRest, Canaries, at_rest, canary_word
from tests.casework import bring_fight, open_intake
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import REF, Network, code_in

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ORGANIZER_PROBES: tuple[str, ...] = ("case {id}", "note {id} x", "assess {id}", "accept {id}")
ORGANIZER_PROBES += ("ladder {id}", "keep {id}", "next {id}", "close {id} won")
ORGANIZER_PROBES += ("decline {id} reason",)
PROBES = (*ORGANIZER_PROBES, "reply {id} x", "vote {id}", "vote {id} yes")
CELL_PROBES: tuple[str, ...] = ("cell site {id} 12 Oak St", "cell unsite {id} 12 Oak St")
CELL_PROBES += ("cell intake {id} on Quiet label", "cell intake {id} off")
GARBAGE = ("", "zz", "K7Q2-M9X", "K7Q2-M9XPQ", "'; DROP TABLE cases;--", "ÄÖÜ-ñ", "🔥" * 9)
SHAPES: dict[str, Callable[[str], str]] = {  # how a person may type an id
    "as shown": lambda ref: ref,
    "lower": str.lower,
    "no dash": lambda ref: ref.replace("-", ""),
    "look-alikes": lambda ref: ref.replace("0", "O").replace("1", "I"),
}
Row = dict[str, Any]


@dataclass
class Clock:
    """The dispatcher's clock, frozen and moved by hand (no sleeps, stable texts)."""

    now: datetime = field(default_factory=lambda: utcnow().replace(second=0, microsecond=0))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(chat: Chat) -> Clock:
    frozen = Clock()
    chat.dispatcher.clock = frozen
    return frozen


@dataclass
class Fight:
    ref: str
    subject: str
    name: str
    answers: dict[str, str]
    canaries: Canaries = field(default_factory=Canaries)

    def told(self) -> Canaries:
        """What the person told (not the id: someone else may type that)."""
        return Canaries({k: v for k, v in self.canaries.forms.items() if k[:3] != "ref"})


async def bring(chat: Chat, tag: str, *, site: str | None = None) -> Fight:
    """A stranger brings a fight whose every answer, name and account is a canary."""
    c = Canaries()
    word = canary_word(tag[:4], 8)
    answers = {
        "what": f"Landlord {word}what withheld every deposit",
        "target": f"Manager {word}target of Acme",
        "site": site or f"{len(tag)} {word}site Row flat 3",
        "demand": f"Return {word}demand in full",
        "others": f"Nine {word}others families",
        "contact": f"Evenings only {word}contact",
    }
    for key, value in answers.items():
        c.add_text(key, value)
    name = c.add_text("name", f"Rosa{word}")
    subject = c.add_uuid("subject", new_account())
    said = [answers[k] for k in ("what", "target", "site", "demand", "others")]
    case = await bring_fight(
        chat, subject, name=name, answers=[*said, "1", "yes", answers["contact"]]
    )
    c.add_text("ref", case.ref)
    c.add_text("ref plain", case.ref.replace("-", ""))
    return Fight(case.ref, subject, name, answers, c)


async def assess(chat: Chat, organizer: str, ref: str, comment: str = "-") -> None:
    for said in (f"assess {ref}", "1", "1", "1", "1", "1", comment):
        await chat.send(organizer, said)


async def other_cell(chat: Chat, net: Network) -> str:
    """Cell B's organizer, the cell made and staffed the way a coordinator does it."""
    found = REF.search(await chat.say(net.coordinators[0], "cell new Harbourside dockers"))
    assert found is not None
    code = code_in(await chat.send(net.coordinators[0], f"invite {found.group(1)} organizer"))
    organizer = new_account()
    for said in (f"join {code}", "1", "bosun_kwrt"):
        await chat.send(organizer, said)
    assert "bosun_kwrt" in await chat.say(organizer, "yes")
    return organizer


def random_ref(rnd: random.Random, taken: set[str], length: int = 8) -> str:
    plain = {t.replace("-", "") for t in taken}
    while (raw := "".join(rnd.choice(ALPHABET) for _ in range(length))) in plain:
        pass
    return f"{raw[:4]}-{raw[4:]}" if length == 8 else raw


def normalise(replies: list[str], typed: str) -> list[str]:
    """Replace only what was typed (and its canonical echo) by a marker."""
    forms = sorted({typed, normalise_case_ref(typed) or typed}, key=len, reverse=True)
    out = []
    for reply in replies:
        for form in (f for f in forms if len(f) >= 3):
            reply = reply.replace(form, "<ID>")
        out.append(reply)
    return out


def mentions(texts: list[str], word: str) -> bool:
    """``word`` as a word of its own ("orga", not "organizers"; "-orga" counts)."""
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
    return any(pattern.search(t) for t in texts)


def received(chat: Chat, account: str, start: int = 0) -> list[str]:
    return [t for a, t in chat.messenger.sent[start:] if a == account]


async def rows(app: LanternApp, table: str) -> list[Row]:
    async with app.db.transaction() as session:
        return [dict(r._mapping) for r in (await session.execute(text(f"SELECT * FROM {table}")))]


def keys(app: LanternApp) -> Keyring:
    assert app.vault.keys is not None
    return app.vault.keys


async def case_id(app: LanternApp, ref: str) -> str:
    async with app.db.transaction() as session:
        found = await Repositories(session, keys(app)).cases.locate(ref)
    assert found is not None
    return found[0]


async def case_state(app: LanternApp, cid: str) -> dict[str, list[Row]]:
    """Every stored row of one case: the case, its history, its ballots, its data key."""
    [case] = [r for r in await rows(app, "cases") if r["id"] == cid]
    return {
        "cases": [case],
        "case_events": [r for r in await rows(app, "case_events") if r["case_id"] == cid],
        "case_votes": [r for r in await rows(app, "case_votes") if r["case_id"] == cid],
        "data_keys": [r for r in await rows(app, "data_keys") if r["id"] == case["dek_id"]],
    }


# --- threat 8: an organizer of another cell -------------------------------------------


async def test_cases_other_cell_organizer_gets_random_id_replies(
    net: Network, app: LanternApp, chat: Chat, clock: Clock
) -> None:
    """Threat 8: B's organizer sends every case command about A's real case id (in every
    typed shape), a random id of the same shape, and garbage, while the case is new and
    while it is voted on, plus ``cell site|unsite|intake`` on A's ref and a random ref:
    real and random replies are identical once the typed id is masked, nothing of the
    case or of cell A is in them, only B's organizer is messaged, and neither the case's
    rows, A's view of it, nor A's intake label and places change."""
    org_b = await other_cell(chat, net)
    mate = new_account()
    await join(chat, net, mate, "mate_casea")
    empty_queue = await chat.say(org_b, "cases")
    await open_intake(chat, net)
    await chat.send(net.organizer, f"cell site {net.cell} 12 Oak Street")
    fight = await bring(chat, "cross")
    cid = await case_id(app, fight.ref)
    secret = fight.canaries
    secret.add_text("cell", "Riverside tenants")
    secret.add_uuid("orga", net.organizer)
    secret.add_uuid("mate", mate)
    words = [net.cell, "orga", "mate_casea", fight.ref, fight.ref.replace("-", "")]

    async def probe(command: str, typed: str) -> list[str]:
        replies = normalise(await chat.send(org_b, command), typed)
        assert replies and secret.hits("\n".join(replies)) == [], replies
        assert [w for w in words if mentions(replies, w)] == [], replies
        return replies

    rnd, pairs = random.Random(8), 0
    for stage in ("new", "voting"):
        if stage == "voting":
            await assess(chat, net.organizer, fight.ref)
            opened = await chat.send(net.organizer, f"vote {fight.ref}")  # + their ballot
            assert "2 people in the cell were asked" in opened[-1]
        view = await chat.say(net.organizer, f"case {fight.ref}")
        stored = await case_state(app, cid)
        cells, sites = await rows(app, "cells"), await rows(app, "cell_sites")
        start = len(chat.messenger.sent)
        for template in PROBES:
            for shape in SHAPES.values():
                real, fake = shape(fight.ref), shape(random_ref(rnd, {fight.ref}))
                got = [await probe(template.format(id=x), x) for x in (real, fake)]
                assert got[0] == got[1], template.format(id=real)
                pairs += 1
            for junk in GARBAGE:
                await probe(template.format(id=junk), junk)
        for template in CELL_PROBES:
            fake = random_ref(rnd, {net.cell}, length=5)
            got = [await probe(template.format(id=x), x) for x in (net.cell, fake)]
            assert got[0] == got[1], template
        assert await chat.say(org_b, "cases") == empty_queue
        assert {a for a, _ in chat.messenger.sent[start:]} == {org_b}, "only B's organizer"
        assert await case_state(app, cid) == stored
        assert (await rows(app, "cells"), await rows(app, "cell_sites")) == (cells, sites)
        assert await chat.say(net.organizer, f"case {fight.ref}") == view
    assert fight.answers["what"] in view and fight.name in view  # A's own view sees it
    print(f"\ncases cross-cell: {pairs} real/random pairs identical, 0 leaks, state unchanged")


# --- threat 9: an infiltrator member of the case's own cell ----------------------------


async def test_cases_member_ballot_call_holds_what_and_demand_only(
    net: Network, app: LanternApp, chat: Chat, clock: Clock
) -> None:
    """Threat 9: a plain member of A is asked to vote with the "what" and the demand,
    never the person's name, account, address, target, others or contact; case commands
    answer them like nonsense (organizer-only) or like a random id; nothing changes."""
    mole = new_account()
    await join(chat, net, mole, "mole_casea")
    await open_intake(chat, net)
    fight = await bring(chat, "mole")
    await assess(chat, net.organizer, fight.ref)
    start = len(chat.messenger.sent)
    await chat.send(net.organizer, f"vote {fight.ref}")
    [call] = received(chat, mole, start)
    assert fight.answers["what"] in call and fight.answers["demand"] in call
    withheld = Canaries()
    for key in ("target", "site", "others", "contact"):
        withheld.add_text(key, fight.answers[key])
    withheld.add_text("name", fight.name)
    withheld.add_uuid("subject", fight.subject)
    withheld.add_uuid("organizer", net.organizer)
    assert withheld.hits(call) == []

    cid = await case_id(app, fight.ref)
    stored = await case_state(app, cid)
    nonsense = await chat.send(mole, "xyzzy")
    fake = random_ref(random.Random(9), {fight.ref})
    for template in (*ORGANIZER_PROBES, "reply {id} x", "vote {id}"):
        got = [
            normalise(await chat.send(mole, template.format(id=r)), r) for r in (fight.ref, fake)
        ]
        assert got[0] == got[1], template
        if template in ORGANIZER_PROBES:
            assert got[0] == nonsense, template
    assert await chat.say(mole, "cases") == translate("en", "cases.none")
    assert await case_state(app, cid) == stored

    await chat.send(mole, f"vote {fight.ref} yes")
    await chat.send(net.organizer, f"vote {fight.ref} yes")  # everyone voted: counted
    everything = received(chat, mole)
    passed = translate("en", "vote.result_passed", ref=fight.ref, yes=2, no=0, abstain=0)
    assert passed in everything
    assert withheld.hits("\n".join(everything)) == []
    assert not mentions(everything, fight.name)


# --- the subject's compartment ---------------------------------------------------------


async def test_cases_subject_sees_own_case_only_and_never_an_organizer(
    net: Network, app: LanternApp, chat: Chat, clock: Clock
) -> None:
    """A stranger who brought a case sees and answers only their own; another stranger
    typing its real id gets the random-id reply and reaches nobody.  Across the whole
    life (assessment, a tied vote, accept, ladder, messages both ways, notes, close, a
    decline) nothing sent to either person names or identifies an organizer, member
    or coordinator, or tells anything of the other person's case."""
    voter = new_account()
    await join(chat, net, voter, "voter_casea")
    await open_intake(chat, net)
    one, two = await bring(chat, "first"), await bring(chat, "second")
    own = {f.subject: await chat.say(f.subject, "cases") for f in (one, two)}
    assert one.ref in own[one.subject] and two.ref not in own[one.subject]
    assert two.ref in own[two.subject] and one.ref not in own[two.subject]

    fake = random_ref(random.Random(3), {one.ref, two.ref})
    for template in PROBES:
        start = len(chat.messenger.sent)
        said = [template.format(id=r) for r in (one.ref, fake)]
        got = [
            normalise(await chat.send(two.subject, s), r)
            for s, r in zip(said, (one.ref, fake), strict=True)
        ]
        assert got[0] == got[1], template
        assert {a for a, _ in chat.messenger.sent[start:]} == {two.subject}
        assert one.canaries.hits("\n".join(got[0])) == []

    start = len(chat.messenger.sent)
    hello = f"Hello from {canary_word('subj', 8)}"
    sent = translate("en", "reply.sent_to_organizers", ref=one.ref)
    assert await chat.say(one.subject, f"reply {one.ref} {hello}") == sent
    assert any(hello in t for t in received(chat, net.organizer, start))

    organizer = net.organizer
    await assess(chat, organizer, one.ref)
    await chat.send(organizer, f"vote {one.ref}")
    await chat.send(organizer, f"vote {one.ref} no")
    await chat.send(voter, f"vote {one.ref} yes")  # a tie: back to assessing
    for said_by_organizer in (
        f"accept {one.ref}",
        f"note {one.ref} orga thinks the manager will fold",
        f"next {one.ref}",
        f"reply {one.ref} We meet Thursday",
        f"next {one.ref}",
        f"close {one.ref} won 1,200 deposit back, thanks orga",
        f"decline {two.ref} We have no one near you right now",
    ):
        assert await chat.send(organizer, said_by_organizer), said_by_organizer
    await chat.send(one.subject, f"reply {one.ref} thank you")

    staff = Canaries()
    for i, person in enumerate([organizer, voter, *net.coordinators]):
        staff.add_uuid(f"staff{i}", person)
    handles = ["orga", "voter_casea", "coord1", "coord2", "coord3"]
    for fight, other in ((one, two), (two, one)):
        texts = received(chat, fight.subject)
        assert staff.hits("\n".join(texts)) == []
        assert [h for h in handles if mentions(texts, h)] == [], texts
        assert other.told().hits("\n".join(texts)) == []  # nothing of the other case
    texts = received(chat, one.subject)
    assert translate("en", "subject.won", ref=one.ref) in texts
    assert any("We meet Thursday" in t for t in texts)
    assert any("no one near you" in t for t in received(chat, two.subject))


async def test_cases_new_case_announcement_withheld_from_quarantined_organizer(
    net: Network, chat: Chat, clock: Clock, messenger: FakeMessenger
) -> None:
    """Threat 2 (a seized or re-registered organizer phone): once the organizer is
    quarantined, a new case reaches them without the person's name or the case text."""
    await open_intake(chat, net)
    messenger.change_identity(net.organizer)
    messenger.changed.discard(net.organizer)  # sends work; only the key differs
    await chat.send(net.organizer, f"invite {net.cell} member")  # withheld: quarantined
    start = len(messenger.sent)
    fight = await bring(chat, "quar")
    texts = received(chat, net.organizer, start)
    assert texts, "the organizer is still told that something arrived"
    assert fight.told().hits("\n".join(texts)) == []


# --- threat 1: cold copy -----------------------------------------------------------------


async def test_cases_cold_copy_holds_no_case_canary(
    net: Network, app: LanternApp, chat: Chat, clock: Clock, database_url: str
) -> None:
    """Threat 1 for cases: after full case lives (won with a note, messages both ways,
    an assessment comment and a close note; declined with a reason; one mid-vote with a
    ballot; a place registered for routing; an intake label; an intake left half way),
    the database files (SQLite with WAL, and again after checkpoint; PostgreSQL's heap
    files when readable) and every table hold none of the texts, names, accounts, case
    ids, label or place, in UTF-8, UTF-16, hex or base64."""
    c = Canaries()
    voter = new_account()
    await join(chat, net, voter, "voter_cold")
    label = c.add_text("label", f"Eastside {canary_word('label', 8)}")
    await open_intake(chat, net, label=label)
    place = c.add_text("place", f"17 {canary_word('Fenn', 8)} Row")
    c.add_text("place words", " ".join(site_words(place)))
    covered = translate("en", "cell.site_added", ref=net.cell)
    assert await chat.say(net.organizer, f"cell site {net.cell} {place}") == covered
    won = await bring(chat, "won", site=f"{place}, flat 3")
    lost, open_ = await bring(chat, "declined"), await bring(chat, "voting")
    for fight in (won, lost, open_):
        c.forms |= {f"{fight.ref} {k}": v for k, v in fight.canaries.forms.items()}
    said = {
        k: c.add_text(k, f"{k} {canary_word(k[:4], 10)}")
        for k in ("note", "to", "from", "comment", "why", "end")
    }
    organizer = net.organizer
    await assess(chat, organizer, won.ref, said["comment"])
    for line in (
        f"note {won.ref} {said['note']}",
        f"accept {won.ref}",
        f"next {won.ref}",
        f"reply {won.ref} {said['to']}",
        f"close {won.ref} won 900 {said['end']}",
        f"decline {lost.ref} {said['why']}",
    ):
        assert await chat.send(organizer, line), line
    await chat.send(won.subject, f"reply {won.ref} {said['from']}")
    await assess(chat, organizer, open_.ref)
    await chat.send(organizer, f"vote {open_.ref}")
    await chat.send(voter, f"vote {open_.ref} yes")
    draft = c.add_text("draft", f"Half told {canary_word('half', 10)}")
    half = new_account()
    for line in ("intake", "en", draft):
        await chat.send(half, line)
    assert said["note"] in await chat.say(net.organizer, f"case {won.ref}")  # all stored
    assert len(await rows(app, "case_votes")) == 1 and len(await rows(app, "dialogs")) == 1

    running = await at_rest(app.db)
    assert AtRest({"sql": said["note"].encode("utf-16-be")}).hits(c)  # positive control
    hits = running.hits(c)
    if is_sqlite(database_url):
        assert running.parts.get("file:lantern.db-wal"), "the WAL is part of the copy"
        await app.db.dispose()
        hits += [f"after close {h}" for h in (await at_rest(app.db)).hits(c)]
    print(f"\ncases cold copy: {len(c.forms)} canaries, {c.form_count} forms: {len(hits)} hits")
    assert hits == []


# --- threat 4: shredding after retention -----------------------------------------------


async def test_cases_retention_shreds_closed_case_and_keeps_the_kept(
    net: Network, app: LanternApp, chat: Chat, clock: Clock, database_url: str
) -> None:
    """Threat 4: past ``case_retention_days`` the timer shreds a closed case (data key,
    case, history) so even its rows from a snapshot taken before no longer decrypt; a
    case the cell kept still reads; only the aggregate outcome (count, amount) remains."""
    await open_intake(chat, net)
    gone, kept = await bring(chat, "gone"), await bring(chat, "kept")
    for fight, outcome in ((gone, "won 1,200 deposit back"), (kept, "settled 300 rent cut")):
        await assess(chat, net.organizer, fight.ref)
        ref = fight.ref
        for line in (f"accept {ref}", f"next {ref}", f"note {ref} hi", f"close {ref} {outcome}"):
            assert await chat.send(net.organizer, line), line
    days = chat.dispatcher.settings.case_retention_days
    keep = translate("en", "keep.on", ref=kept.ref, days=days)
    assert await chat.say(net.organizer, f"keep {kept.ref}") == keep
    gone_id, kept_id = await case_id(app, gone.ref), await case_id(app, kept.ref)
    snapshot = await case_state(app, gone_id)
    assert len(snapshot["case_events"]) >= 5 and len(snapshot["data_keys"]) == 1
    [dek] = snapshot["data_keys"]

    clock.now += timedelta(days=days - 1)
    assert await chat.dispatcher.timers.tick() == 0  # not yet
    clock.now += timedelta(days=2)
    assert await chat.dispatcher.timers.tick() == 1
    assert {r["id"] for r in await rows(app, "cases")} == {kept_id}
    assert {r["case_id"] for r in await rows(app, "case_events")} == {kept_id}
    assert dek["id"] not in {r["id"] for r in await rows(app, "data_keys")}
    assert gone.ref not in await chat.say(gone.subject, "cases")
    fake = random_ref(random.Random(4), {gone.ref, kept.ref})
    replies = [await chat.say(net.organizer, f"case {r}") for r in (gone.ref, fake)]
    assert normalise(replies[:1], gone.ref) == normalise(replies[1:], fake)
    assert kept.answers["what"] in await chat.say(net.organizer, f"case {kept.ref}")

    outcomes = await rows(app, "outcomes")
    assert {k for r in outcomes for k in r} == {"cell_id", "month", "outcome", "count", "amount"}
    assert {(r["outcome"], r["count"], r["amount"]) for r in outcomes} == {
        ("won", 1, 1200),
        ("settled", 1, 300),
    }
    dump = "\n".join(str(v) for r in outcomes for v in r.values())
    assert gone.canaries.hits(dump) == [] and gone_id not in dump

    wrapped = dek["wrapped"]
    on_disk = {
        w: b.count(wrapped) for w, b in (await at_rest(app.db)).parts.items() if wrapped in b
    }
    if is_sqlite(database_url):
        await app.db.dispose()  # checkpoint: secure_delete has zeroed the freed cells
        closed = [w for w, b in (await at_rest(app.db)).parts.items() if wrapped in b]
        assert closed == [], "the shredded data key must not survive a checkpoint"
    print(f"\ncase shred: wrapped key on disk until checkpoint/VACUUM: {on_disk or 'nowhere'}")

    async with app.db.transaction() as session:  # the pre-shred rows, put back
        for table in ("cases", "case_events"):
            for row in snapshot[table]:
                names = ", ".join(row)
                values = ", ".join(f":{k}" for k in row)
                await session.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), row)
    async with app.db.transaction() as session:
        repos = Repositories(session, keys(app))
        assert await repos.cases.by_id(gone_id) is None  # unreadable: the same as gone
        assert await repos.cases.by_ref(gone.ref) is None
        with pytest.raises(KeyMissingError):
            await repos.cases.events(gone_id)
        with pytest.raises(KeyMissingError):
            await repos.keys.data_key(dek["id"], "case", gone_id)
        still = await repos.cases.by_id(kept_id)
        assert still is not None and still.subject_name == kept.name
        assert len(await repos.cases.events(kept_id)) >= 5


# --- ballot secrecy at rest ------------------------------------------------------------


async def test_cases_open_ballots_hold_no_member_identifier(
    net: Network, app: LanternApp, chat: Chat, clock: Clock
) -> None:
    """While votes are open, ``case_votes`` holds no member id, account, blind index or
    handle index; one member's ballots on two cases cannot be linked; choices are
    ciphertext (equal choices differ); a changed vote replaces its row; the count
    erases the ballots."""
    voters = [new_account(), new_account()]
    for i, account in enumerate(voters):
        await join(chat, net, account, f"ballot_{i}")
    await open_intake(chat, net)
    first, second = await bring(chat, "ballot"), await bring(chat, "vote")
    for fight in (first, second):
        await assess(chat, net.organizer, fight.ref)
        await chat.send(net.organizer, f"vote {fight.ref}")
        await chat.send(voters[0], f"vote {fight.ref} yes")
        await chat.send(net.organizer, f"vote {fight.ref} yes")
    ballots = await rows(app, "case_votes")
    assert len(ballots) == 4
    members = await rows(app, "members")
    known: set[bytes] = set()
    people = Canaries()
    for m in members:
        known |= {m["id"].encode(), bytes.fromhex(m["id"]), m["account_bidx"], m["handle_bidx"]}
        people.add_text(m["id"], m["id"])
    for i, account in enumerate([*voters, net.organizer]):
        people.add_uuid(f"voter{i}", account)
    for ballot in ballots:
        assert ballot["voter_key"] not in known
        assert people.hits(ballot["voter_key"] + b"\x00" + ballot["choice_ct"]) == []
        assert b"yes" not in ballot["choice_ct"]
        assert len(ballot["choice_ct"]) == 2 + 12 + len("yes") + 16  # header, nonce, tag
    first_id, second_id = await case_id(app, first.ref), await case_id(app, second.ref)
    by_case = [
        {b["voter_key"] for b in ballots if b["case_id"] == c} for c in (first_id, second_id)
    ]
    assert by_case[0].isdisjoint(by_case[1]), "one member, unlinkable across cases"
    assert len({b["choice_ct"] for b in ballots}) == 4, "equal choices, different ciphertexts"

    before = {(b["case_id"], b["voter_key"]): b["choice_ct"] for b in ballots}
    await chat.send(voters[0], f"vote {first.ref} no")
    after = {(b["case_id"], b["voter_key"]): b["choice_ct"] for b in await rows(app, "case_votes")}
    assert after.keys() == before.keys()
    assert sum(after[k] != before[k] for k in before) == 1
    await chat.send(voters[1], f"vote {first.ref} abstain")  # all three voted: counted
    assert {b["case_id"] for b in await rows(app, "case_votes")} == {second_id}
