"""Escalation prompts: the chain, mode all, answers, and what non-coordinators hear."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import LanternApp
from storage.models import utcnow
from storage.prompts import normalise_prompt_ref
from storage.repositories import Repositories
from tests.casework import ANSWERS_EN
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network
from tests.promptkit import (
    DECISIONS,
    OPTIONS,
    Clock,
    answer,
    clock,
    en,
    first_asked,
    open_test,
    received,
    tick,
)

__all__ = ["clock"]  # the fixture, imported for this module
STEP = 120  # minutes: the default prompt_step_minutes
REF = re.compile(r"^P[0-9A-HJKMNP-TV-Z]{4}$")


async def test_prompt_chain_walks_each_coordinator_then_applies_default(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    people = net.coordinators
    start = len(messenger.sent)
    ref = await open_test(chat, app, default=2)
    assert ref is not None and REF.match(ref)
    order = first_asked(messenger, people, ref, start)
    assert len(order) == 1, "chain: one coordinator at a time"
    for _ in range(len(people) - 1):
        mark = len(messenger.sent)
        assert await tick(chat, clock, minutes=STEP - 1) == 0, "not before the step ends"
        assert await tick(chat, clock, minutes=1) == 1
        now_asked = first_asked(messenger, people, ref, mark)
        assert len(now_asked) == 1 and now_asked[0] not in order
        assert received(messenger, order[-1], mark) == [en("prompt.moved_on", ref=ref)]
        order += now_asked
    assert sorted(order) == sorted(people) and DECISIONS == []
    mark = len(messenger.sent)
    assert await tick(chat, clock, minutes=STEP) == 1
    applied = en("prompt.defaulted", ref=ref, option=en(OPTIONS[1]))
    for person in people:
        assert received(messenger, person, mark) == [applied]
    assert DECISIONS == [("subject-1", 2, None)]
    assert await tick(chat, clock, minutes=STEP) == 0, "nothing fires twice"
    assert await chat.say(order[0], f"{ref} 1") == en(
        "prompt.already_defaulted", ref=ref, option=en(OPTIONS[1])
    )


async def test_prompt_chain_order_rotates_between_prompts(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    firsts = set()
    for n in range(12):
        mark = len(messenger.sent)
        ref = await open_test(chat, app, subject=f"s{n}")
        assert ref is not None
        firsts.update(first_asked(messenger, net.coordinators, ref, mark))
    assert len(firsts) >= 2, "the same coordinator is not always asked first"


async def test_prompt_mode_all_first_answer_wins_and_late_answer_is_told(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    c1, c2, c3 = net.coordinators
    mark = len(messenger.sent)
    ref = await open_test(chat, app)
    assert ref is not None
    assert first_asked(messenger, net.coordinators, ref, mark) == net.coordinators
    mark = len(messenger.sent)
    assert await answer(chat, c2, "3") == [en("prompt.recorded", ref=ref, option=en(OPTIONS[2]))]
    told = en("prompt.decided_by", ref=ref, handle="coord2", option=en(OPTIONS[2]))
    assert received(messenger, c1, mark) == [told] and received(messenger, c3, mark) == [told]
    assert DECISIONS == [("subject-1", 3, "coord2")]
    late = en("prompt.already_decided", ref=ref, handle="coord2", option=en(OPTIONS[2]))
    assert await chat.say(c1, "1") == late
    assert await chat.say(c3, f"{ref.lower()} 2") == late
    assert DECISIONS == [("subject-1", 3, "coord2")], "first answer wins"
    assert await tick(chat, clock, minutes=STEP + 1) == 0


async def test_prompt_answers_by_number_and_by_ref_in_any_spelling(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    c1, c2, _ = net.coordinators
    ref = await open_test(chat, app, subject="a")
    assert ref is not None
    assert await chat.say(c1, f"{ref[0]}-{ref[1:].lower()}-1") == en(
        "prompt.recorded", ref=ref, option=en(OPTIONS[0])
    )
    second = await open_test(chat, app, subject="b")
    assert second is not None and normalise_prompt_ref(second.lower()) == second
    assert await chat.say(c2, f" {second}:2 ") == en(
        "prompt.recorded", ref=second, option=en(OPTIONS[1])
    )
    third = await open_test(chat, app, subject="c")
    assert third is not None
    assert await chat.say(c1, "2") == en("prompt.recorded", ref=third, option=en(OPTIONS[1]))
    assert DECISIONS == [("a", 1, "coord1"), ("b", 2, "coord2"), ("c", 2, "coord1")]
    assert await chat.say(c1, third) == en(
        "prompt.already_decided", ref=third, handle="coord1", option=en(OPTIONS[1])
    )


async def test_prompt_several_open_ask_which_out_of_range_shows_options(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    c1 = net.coordinators[0]
    assert await chat.say(c1, "1") == en("prompt.none")
    assert await chat.say(c1, "prompts") == en("prompt.list_none")
    one = await open_test(chat, app, subject="one")
    clock.now += timedelta(minutes=1)
    two = await open_test(chat, app, subject="two")
    assert one and two
    which = await chat.say(c1, "2")
    assert which == en("prompt.which", count=2, refs=f"{two}, {one}", example=f"{two} 2")
    listing = await chat.say(c1, "avisos")
    assert listing.startswith(en("prompt.list_header", count=2))
    assert one in listing and two in listing and en(OPTIONS[2]) in listing
    options = "\n".join(f"{n}. {en(o)}" for n, o in enumerate(OPTIONS, start=1))
    assert await chat.say(c1, f"{one} 7") == en(
        "prompt.out_of_range", ref=one, count=3, options=options
    )
    assert await chat.say(c1, "P9999 1") == en("prompt.not_found", ref="P9999")
    assert DECISIONS == []
    await chat.say(c1, f"{one} 3")
    assert await chat.say(c1, "1") == en("prompt.recorded", ref=two, option=en(OPTIONS[0]))


async def test_prompt_non_coordinators_hear_exactly_the_unknown_reply(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    ref = await open_test(chat, app)
    assert ref is not None
    member, stranger = new_account(), new_account()
    await join(chat, net, member, "mia")
    for person in (member, net.organizer, stranger):
        usual = await chat.send(person, "zebra")
        for text in ("1", "2", f"{ref} 1", f"{ref.lower()}-2", "P7K2M 1", "prompts", "avisos"):
            assert await chat.send(person, text) == usual, (person, text)
    assert DECISIONS == []
    assert await chat.say(net.coordinators[0], "pizza") == en("unknown.hint"), "not a ref"


async def test_prompt_occasion_fires_once_and_deadline_fits_the_chain(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    deadline = clock.now + timedelta(minutes=90)  # less than one 120-minute step each
    ref = await open_test(chat, app, occasion="o1", deadline=deadline)
    assert ref is not None
    mark = len(messenger.sent)
    assert await open_test(chat, app, occasion="o1") is None
    assert messenger.sent[mark:] == [], "a second call sends nothing"
    assert await open_test(chat, app, occasion="o2") not in (None, ref)
    assert await tick(chat, clock, minutes=29) == 0
    assert await tick(chat, clock, minutes=1) == 1, "90 minutes / 3 coordinators"
    assert await tick(chat, clock, minutes=30) == 1
    assert await tick(chat, clock, minutes=30) == 1
    assert DECISIONS == [("subject-1", 2, None)]


async def test_prompt_number_inside_a_dialog_answers_the_dialog(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    c1 = net.coordinators[0]
    await chat.send(net.organizer, f"cell intake {net.cell} on Riverside tenants")
    ref = await open_test(chat, app)
    assert ref is not None
    await chat.send(c1, "intake")
    for line in ANSWERS_EN[:5]:
        await chat.send(c1, line)
    replies = await chat.send(c1, "1")  # "will others act?": an intake answer
    assert replies and all(ref not in r for r in replies)
    await chat.send(c1, "cancel")
    assert DECISIONS == []
    assert ref in await chat.say(c1, "prompts")
    assert await chat.say(c1, "1") == en("prompt.recorded", ref=ref, option=en(OPTIONS[0]))


async def quarantine(app: LanternApp, account: str) -> None:
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        member = await repos.members.by_account(account)
        assert member is not None
        await repos.members.quarantine(member.id, now=utcnow())


async def test_prompt_quarantined_coordinator_is_never_asked_nor_heard(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    c1, c2, c3 = net.coordinators
    await quarantine(app, c3)
    chat.dispatcher.settings.prompt_mode = "all"
    mark = len(messenger.sent)
    ref = await open_test(chat, app, subject="all")
    assert ref is not None
    assert first_asked(messenger, net.coordinators, ref, mark) == [c1, c2]
    assert await chat.say(c3, f"{ref} 1") == en("quarantine.withheld")
    await chat.send(c1, f"{ref} 1")
    chat.dispatcher.settings.prompt_mode = "chain"
    mark = len(messenger.sent)
    ref = await open_test(chat, app, subject="chain")
    assert ref is not None
    first = first_asked(messenger, net.coordinators, ref, mark)
    assert first in ([c1], [c2])
    await quarantine(app, c2 if first == [c1] else c1)  # the next in the chain, now
    assert await tick(chat, clock, minutes=STEP) == 1
    assert first_asked(messenger, net.coordinators, ref, mark) == first
    assert DECISIONS == [("all", 1, "coord1"), ("chain", 2, None)]
