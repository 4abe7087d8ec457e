"""Intake: someone brings a fight, one question at a time, through the real dispatcher."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import LanternApp
from bot.config import Settings
from bot.i18n import translate
from storage.models import Case, Cell, Dialog, utcnow
from tests.casework import ANSWERS_EN, ANSWERS_ES, bring_fight, case_ref_in, open_intake
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def count(app: LanternApp, model: type[Case] | type[Dialog]) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_intake_stranger_in_english_from_first_question_to_case_id(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    await open_intake(chat, net)
    rosa = new_account()
    assert await chat.say(rosa, "intake") == "\n".join(
        [en("intake.ask_language"), es("intake.ask_language"), "1. English", "2. Español"]
    )
    assert await chat.send(rosa, "1") == [en("intake.intro"), en("intake.ask_what")]
    expected = [
        "intake.ask_target",
        "intake.ask_site",
        "intake.ask_demand",
        "intake.ask_others",
        "intake.ask_others_act",
        "intake.ask_commit",
        "intake.ask_contact",
        "intake.ask_name",
    ]
    for answer, question in zip(ANSWERS_EN, expected, strict=True):
        assert await chat.say(rosa, answer) == en(question)
    summary, confirm = await chat.send(rosa, "Rosa")
    assert confirm == en("intake.ask_confirm")
    for answer in (*ANSWERS_EN[:5], ANSWERS_EN[7], "Rosa"):
        assert answer in summary, "every answer is shown back as typed"
    done = await chat.say(rosa, "YES")
    ref = case_ref_in([done])
    assert done == en("intake.done", ref=ref)
    announce = [t for a, t in messenger.sent if a == net.organizer][-1]
    assert announce == en(
        "case.announce", ref=ref, handle="Rosa", cell="Riverside tenants", cell_ref=net.cell
    )
    assert ANSWERS_EN[0] not in announce and ANSWERS_EN[2] not in announce
    assert await chat.say(rosa, "cases") == "\n".join(
        [en("cases.own_header"), en("cases.own_line", ref=ref, status=en("status.new"))]
    )


async def test_intake_member_in_spanish_skips_language_and_name(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    await open_intake(chat, net)
    lucia = new_account()
    await join(chat, net, lucia, "lucia", lang="es")
    assert await chat.send(lucia, "lucha") == [es("intake.intro"), es("intake.ask_what")]
    for answer in ANSWERS_ES[:-1]:
        await chat.send(lucia, answer)
    summary, confirm = await chat.send(lucia, ANSWERS_ES[-1])
    assert summary.startswith(es("intake.summary_header")) and "• Nombre" not in summary
    assert confirm == es("intake.ask_confirm")
    done = await chat.say(lucia, "sí")
    assert done == es("intake.done", ref=case_ref_in([done]))
    async with app.db.transaction() as session:
        assert await session.scalar(select(Case.status)) == "new"
    assert await count(app, Dialog) == 0, "the draft and its key are gone once sent"


async def test_intake_back_returns_and_keeps_answers(net: Network, chat: Chat) -> None:
    await open_intake(chat, net)
    ana = new_account()
    await chat.send(ana, "intake")
    await chat.send(ana, "en")
    await chat.send(ana, "Mould everywhere")
    assert await chat.say(ana, "back") == en("intake.ask_what")
    assert await chat.say(ana, "Mould and no heating") == en("intake.ask_target")
    for answer in ANSWERS_EN[1:]:
        await chat.send(ana, answer)
    await chat.send(ana, "Ana")
    assert await chat.say(ana, "back") == en("intake.ask_name")
    summary, _confirm = await chat.send(ana, "Ana B")
    assert "Mould and no heating" in summary and "Ana B" in summary
    assert "Mould everywhere" not in summary


async def test_intake_back_at_the_first_question_of_a_member(net: Network, chat: Chat) -> None:
    await open_intake(chat, net)
    joe = new_account()
    await join(chat, net, joe, "joe")
    await chat.send(joe, "intake")
    assert await chat.send(joe, "back") == [en("back.at_start"), en("intake.ask_what")]


async def test_intake_cancel_deletes_the_draft_but_not_an_answer_that_says_cancel(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    await open_intake(chat, net)
    bo = new_account()
    await chat.send(bo, "intake")
    await chat.send(bo, "en")
    reply = await chat.say(bo, "Cancel my lease, they said, or else")
    assert reply == en("intake.ask_target"), "a sentence starting with cancel is an answer"
    assert await count(app, Dialog) == 1
    assert await chat.say(bo, "CANCEL") == en("cancel.done_stranger")
    assert await count(app, Dialog) == 0
    assert await chat.say(bo, "Acme") == en("stranger.reply")


async def test_intake_unclear_structured_answers_are_asked_again(net: Network, chat: Chat) -> None:
    await open_intake(chat, net)
    cy = new_account()
    await chat.send(cy, "intake")
    assert await chat.say(cy, "klingon") == en(
        "join.language_unclear", menu="1. English\n2. Español"
    )
    await chat.send(cy, "2")
    for answer in ANSWERS_ES[:5]:
        await chat.send(cy, answer)
    assert await chat.say(cy, "mañana") == es("intake.unclear_three")
    assert await chat.say(cy, "3") == es("intake.ask_commit")
    assert await chat.say(cy, "depende") == es("intake.unclear_yes_no")
    assert await chat.say(cy, "si") == es("intake.ask_contact")
    assert await chat.say(cy, "x" * 2500) == es("intake.too_long", max=2000, length=2500)
    assert await chat.send(cy, "   ") == [es("intake.empty"), es("intake.ask_contact")]
    await chat.send(cy, "Por la tarde")
    await chat.send(cy, "Cy")
    assert await chat.say(cy, "hmm") == es("intake.unclear_yes_no")
    assert await chat.say(cy, "no") == es("intake.not_sent")
    assert await chat.say(cy, "atrás") == es("intake.ask_name")
    summary, _confirm = await chat.send(cy, "Cy")
    assert "Por la tarde" in summary and "x" * 100 not in summary
    done = await chat.say(cy, "si")
    assert done == es("intake.done", ref=case_ref_in([done]))


async def test_intake_not_ready_to_take_part_keeps_the_draft(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    await open_intake(chat, net)
    di = new_account()
    await chat.send(di, "intake")
    await chat.send(di, "en")
    for answer in ANSWERS_EN[:6]:
        await chat.send(di, answer)
    not_yet = await chat.say(di, "no")
    assert not_yet.startswith(en("intake.not_yet", until="\x00").split("\x00")[0])
    assert await count(app, Dialog) == 1 and await count(app, Case) == 0
    assert await chat.say(di, "yes") == en("intake.ask_contact"), "picked up where it was"


async def test_intake_draft_survives_a_restart(
    net: Network, chat: Chat, settings: Settings, messenger: FakeMessenger
) -> None:
    await open_intake(chat, net)
    eva = new_account()
    await chat.send(eva, "intake")
    await chat.send(eva, "es")
    await chat.send(eva, ANSWERS_ES[0])
    second = LanternApp(settings)  # a restart: sealed until k coordinators unseal
    await second.open_vault()
    chat2 = Chat(second.make_dispatcher(messenger), messenger)
    chat2._ts = chat._ts
    assert await chat2.say(eva, ANSWERS_ES[1]) == translate("en", "sealed.received")
    for coordinator in net.coordinators[: net.threshold]:
        await chat2.send(coordinator, f"unseal {net.shares[coordinator]}")
    assert [t for a, t in messenger.sent if a == eva][-1] == es("intake.ask_site")
    for answer in ANSWERS_ES[2:]:
        await chat2.send(eva, answer)
    await chat2.send(eva, "Eva")
    summary = [t for a, t in messenger.sent if a == eva][-2]
    assert ANSWERS_ES[0] in summary and ANSWERS_ES[1] in summary
    second.vault.seal()
    await second.db.dispose()


async def test_intake_draft_reminder_then_expiry(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    await open_intake(chat, net)
    fay = new_account()
    await chat.send(fay, "intake")
    await chat.send(fay, "es")
    await chat.send(fay, ANSWERS_ES[0])
    timers = chat.dispatcher.timers
    start = utcnow()
    chat.dispatcher.clock = lambda: start + timedelta(hours=1)
    assert await timers.tick() == 0
    remind_at = start + timedelta(hours=72 - 24, minutes=1)
    chat.dispatcher.clock = lambda: remind_at
    assert await timers.tick() == 1
    assert [t for a, t in messenger.sent if a == fay][-2:] == [
        es("intake.reminder", hours=24),
        es("intake.ask_target"),
    ]
    assert await timers.tick() == 0, "one reminder only"
    chat.dispatcher.clock = lambda: start + timedelta(hours=73)
    assert await timers.tick() == 1
    assert [t for a, t in messenger.sent if a == fay][-1] == es("intake.expired")
    assert await count(app, Dialog) == 0


async def test_intake_closed_when_no_cell_takes_fights(net: Network, chat: Chat) -> None:
    gus = new_account()
    assert await chat.say(gus, "intake") == en("intake.closed")
    await chat.send(net.organizer, f"cell site {net.cell} 12 Oak Street")
    assert await chat.say(gus, "intake") == en("intake.closed"), "places alone open nothing"
    await open_intake(chat, net)
    await chat.send(net.organizer, f"cell intake {net.cell} off")
    assert await chat.say(gus, "intake") == en("intake.closed")


async def test_intake_routes_by_place_without_showing_it(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    """Two cells open; the second covers 12 Oak Street.  The person who answers "not
    sure" lands there; the questions they saw are the same as for an unknown place."""
    coordinator = net.coordinators[0]
    second = (await chat.say(coordinator, "cell new Oak tenants")).split("(ref ")[1][:5]
    await chat.send(coordinator, f"cell intake {second} on Oak Street tenants")
    await open_intake(chat, net, "Riverside")
    added = await chat.say(coordinator, f"cell site {second} 12 oak street")
    assert added == en("cell.site_added", ref=second)
    seen: dict[str, list[str]] = {}
    for place in ("12 Oak St, apt 4", "99 Elm Road"):
        who = new_account()
        answers = [*ANSWERS_EN[:2], place, *ANSWERS_EN[3:]]
        await chat.send(who, "intake")
        await chat.send(who, "en")
        for answer in answers:
            await chat.send(who, answer)
        menu = await chat.send(who, "Hal")
        seen[place] = menu
        await chat.send(who, "0")
        await chat.send(who, "yes")
    assert seen["12 Oak St, apt 4"] == seen["99 Elm Road"]
    async with app.db.transaction() as session:
        cells = list((await session.scalars(select(Case.cell_id))).all())
        oak = await session.scalar(select(Cell.id).where(Cell.ref == second))
    assert cells.count(oak) == 1, "the Oak Street case went to the cell covering it"


async def test_intake_choice_among_open_cells_is_respected(
    net: Network, chat: Chat, messenger: FakeMessenger
) -> None:
    coordinator = net.coordinators[0]
    second = (await chat.say(coordinator, "cell new Harbor workers")).split("(ref ")[1][:5]
    await open_intake(chat, net, "Riverside")
    await chat.send(coordinator, f"cell intake {second} on Harbor workers")
    ivy = new_account()
    await chat.send(ivy, "intake")
    await chat.send(ivy, "en")
    for answer in ANSWERS_EN:
        await chat.send(ivy, answer)
    menu = await chat.say(ivy, "Ivy")
    assert menu == en("intake.ask_cell", menu="1. Riverside\n2. Harbor workers")
    assert await chat.say(ivy, "7") == en("intake.unclear_number", high=2)
    await chat.send(ivy, "2")
    ref = case_ref_in(await chat.send(ivy, "yes"))
    assert not [t for a, t in messenger.sent if a == net.organizer and ref in t]


async def test_intake_twice_gives_two_cases(net: Network, chat: Chat) -> None:
    await open_intake(chat, net)
    kai = new_account()
    first = await bring_fight(chat, kai, name="Kai")
    second = await bring_fight(chat, kai, name="Kai")
    assert first.ref != second.ref
    listing = await chat.say(kai, "cases")
    assert first.ref in listing and second.ref in listing
