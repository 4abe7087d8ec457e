"""The case triggers end to end: a case waiting in triage, a stalled campaign."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import LanternApp
from bot.i18n import translate
from storage.models import Case, Prompt, PromptAsk
from tests.canary import Canaries, at_rest, sql_dump
from tests.casework import ANSWERS_EN, bring_fight, open_intake
from tests.casework import Case as Fight
from tests.conftest import Chat, FakeMessenger, new_account
from tests.network import Network
from tests.promptkit import Clock, answer, clock, en, first_asked, received, tick

__all__ = ["clock"]
STEP = 120  # minutes: the default prompt_step_minutes
CHAIN = 3 * STEP  # three coordinators, one step each


async def fight(chat: Chat, net: Network) -> Fight:
    await open_intake(chat, net)
    return await bring_fight(chat, new_account(), name="Rosalind Canary")


async def campaign(chat: Chat, net: Network) -> Fight:
    """A case accepted by its cell: a campaign with a ladder, not started yet."""
    case = await fight(chat, net)
    await chat.send(net.organizer, f"assess {case.ref}")
    for line in ("1", "1", "1", "1", "1", "-"):
        await chat.send(net.organizer, line)
    await chat.send(net.organizer, f"accept {case.ref}")
    return case


REMIND = en("prompt.stale.remind")


def asked_ref(messenger: FakeMessenger, net: Network, since: int) -> str:
    """The ref of a prompt the coordinators were told about since ``since``."""
    return next(t for p in net.coordinators for t in received(messenger, p, since))[:5]


async def paused_until(app: LanternApp) -> object:
    async with app.db.transaction() as session:
        return await session.scalar(select(Case.paused_until))


async def test_prompt_stale_case_reminds_organizers_and_shows_no_case_text(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    case = await fight(chat, net)
    assert await tick(chat, clock, hours=47) == 0, "not yet stale"
    mark = len(messenger.sent)
    assert await tick(chat, clock, hours=2) == 1
    asked = [t for p in net.coordinators for t in received(messenger, p, mark)]
    assert len(asked) == 1
    question = en("prompt.stale.question", case=case.ref, cell=net.cell, hours=49)
    assert question in asked[0] and en("prompt.stale.remind") in asked[0]
    assert "Number, e.g." not in asked[0] and en("prompt.stale.wait", triage=48) in asked[0]
    for secret in (*ANSWERS_EN[:5], "Rosalind", ANSWERS_EN[7]):
        assert secret not in asked[0], secret
    [first] = first_asked(messenger, net.coordinators, asked[0][:5], mark)
    assert await tick(chat, clock, minutes=10) == 0, "asked once per triage period"
    mark = len(messenger.sent)
    await answer(chat, first, "1")
    # the wait is counted from the hour-rounded change at answer time: 49 h or, if the
    # ten minutes above crossed an hour, 50 h
    reminders = [en("prompt.stale.reminder", ref=case.ref, hours=h) for h in (49, 50)]
    [got] = received(messenger, net.organizer, mark)
    assert got in reminders
    assert received(messenger, case.subject, mark) == []


async def test_prompt_stale_case_left_for_a_period_is_asked_again_after_it(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    case = await fight(chat, net)
    mark = len(messenger.sent)
    assert await tick(chat, clock, hours=49) == 1
    [first] = [p for p in net.coordinators if received(messenger, p, mark)]
    await answer(chat, first, "2")
    assert received(messenger, net.organizer, mark) == []
    assert await tick(chat, clock, hours=24) == 0
    assert await tick(chat, clock, hours=25) == 1, "another triage period: asked again"
    await chat.send(net.organizer, f"assess {case.ref}")
    for line in ("1", "1", "1", "1", "1", "-"):
        await chat.send(net.organizer, line)
    mark = len(messenger.sent)
    for _ in range(3):
        assert await tick(chat, clock, minutes=STEP) == 1
    assert en("prompt.defaulted", ref=asked_ref(messenger, net, mark), option=REMIND) in [
        t for p in net.coordinators for t in received(messenger, p, mark)
    ]
    assert received(messenger, net.organizer, mark) == [], "assessed meanwhile: no reminder"
    assert await tick(chat, clock, hours=41) == 0, "assessing is a change: a fresh start"
    assert await tick(chat, clock, hours=2) == 1, "but assessing can be stale too"


async def test_prompt_stalled_campaign_default_pause_then_asked_when_it_ends(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    case = await campaign(chat, net)
    assert await tick(chat, clock, days=13) == 0
    mark = len(messenger.sent)
    assert await tick(chat, clock, days=2) == 1
    question = en("prompt.stalled.question", case=case.ref, cell=net.cell, days=15, rung=0, total=4)
    [asked] = [t for p in net.coordinators for t in received(messenger, p, mark)]
    assert question in asked and en("prompt.stalled.pause", stall=14) in asked
    for _ in range(3):
        assert await tick(chat, clock, minutes=STEP) == 1
    assert await paused_until(app) is not None
    paused = en("prompt.stalled.paused", ref=case.ref, days=14)
    assert received(messenger, net.organizer, mark) == [paused]
    assert received(messenger, case.subject, mark) == []
    assert await tick(chat, clock, days=7) == 0, "paused: not asked"
    assert await tick(chat, clock, days=6) == 0, "still paused"
    assert await tick(chat, clock, days=1) == 1, "the pause ended with nothing done"


async def test_prompt_stalled_campaign_next_rung_tells_subject_and_organizers(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    case = await campaign(chat, net)
    mark = len(messenger.sent)
    assert await tick(chat, clock, days=15) == 1
    coordinator = net.coordinators[1]
    ref = received(messenger, coordinator, mark)[0][:5]
    recorded = en("prompt.recorded", ref=ref, option=en("prompt.stalled.next"))
    assert await answer(chat, coordinator, "1") == [recorded]
    rung = en("ladder.letter")
    assert received(messenger, case.subject, mark) == [
        en("subject.active", ref=case.ref),
        en("subject.rung", ref=case.ref, rung=rung),
    ]
    climbed = en("prompt.stalled.climbed", ref=case.ref, number=1, total=4, rung=rung)
    assert received(messenger, net.organizer, mark) == [climbed]
    history = await chat.say(net.organizer, f"case {case.ref}")
    assert "coordinators" in history and rung in history and "coord2" not in history
    assert await tick(chat, clock, days=13) == 0, "climbing is an action"
    assert await paused_until(app) is None


async def test_prompt_close_option_and_prompts_hold_no_plaintext(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger, clock: Clock
) -> None:
    chat.dispatcher.settings.prompt_mode = "all"
    case = await campaign(chat, net)
    mark = len(messenger.sent)
    assert await tick(chat, clock, days=15) == 1
    ref = received(messenger, net.coordinators[0], mark)[0][:5]
    await answer(chat, net.coordinators[2], f"{ref} 3")
    assert received(messenger, net.organizer, mark) == [
        en("prompt.stalled.close_ask", ref=case.ref)
    ]
    es = translate("es", "prompt.stalled.close_ask", ref=case.ref)
    assert es != received(messenger, net.organizer, mark)[0]
    async with app.db.transaction() as session:
        prompt = (await session.scalars(select(Prompt))).one()
        asks = (await session.scalars(select(PromptAsk))).all()
    assert prompt.status == "decided" and len(asks) == 3
    canaries = Canaries()
    canaries.add_text("case", case.ref)
    canaries.add_text("question", "prompt.stalled")
    canaries.add_text("handle", "coord3" + "  ")  # handles are short: padded below
    blob = prompt.body_ct + b"".join(a.member_bidx for a in asks)
    assert canaries.hits(blob) == []
    for plain in (case.ref, net.cell, ref, "coord3", "prompt.stalled"):
        assert plain.encode() not in blob
    assert ref.encode() not in await sql_dump(app.db)
    assert (await at_rest(app.db)).hits(canaries) == []
