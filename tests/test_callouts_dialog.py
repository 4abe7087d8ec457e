"""CALLOUT as an organizer lives it: the dialog, bad and past times, BACK, CANCEL, the
one-line form, a Spanish organizer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import LanternApp
from storage.models import Callout
from tests.callouts import Clock, call_out, clock_fixture, en, es, when
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network

__all__ = ["clock_fixture"]  # the fixture, imported for this module


LONG = "EEEE d MMMM y, HH:mm"


async def callouts_stored(app: LanternApp) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Callout)) or 0)


async def test_callout_dialog_reasks_bad_answers_keeps_the_rest_and_goes_back(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    orga = net.organizer
    assert await chat.say(orga, "callout") == en("callout.ask_what")
    assert await chat.say(orga, "Picket at Acme") == en("callout.ask_when", zone="UTC")
    assert await chat.say(orga, "when the moon is blue") == en(
        "callout.when_unclear", text="when the moon is blue"
    )
    assert await chat.say(orga, "yesterday 10:00") == en(
        "callout.when_past", text="yesterday 10:00"
    )
    assert await chat.say(orga, "saturday") == en("callout.when_no_time", text="saturday")
    start = (clock.now + timedelta(days=3)).replace(hour=18, minute=0)
    typed = start.strftime("%d %B %Y 18:00")
    assert await chat.send(orga, typed) == [
        en("callout.when_ok", when=when(start, pattern=LONG)),
        en("callout.ask_where"),
    ]
    assert await chat.say(orga, "12 Oak Street") == en("callout.ask_people")
    assert await chat.say(orga, "lots") == en("callout.people_invalid", max=5000)
    assert await chat.say(orga, "6") == en("callout.ask_slots")
    assert await chat.say(orga, "2 drivers, 1 legal observer") == en(
        "callout.ask_audience", menu=f"1. Riverside tenants ({net.cell})"
    )
    assert await chat.say(orga, "everyone!") == en("callout.audience_invalid", token="everyone!")
    assert await chat.say(orga, "all") == en("callout.ask_case")
    assert await chat.say(orga, "none") == en("callout.ask_reveal", hours="2")
    assert await chat.say(orga, "soonish") == en("callout.reveal_invalid")
    assert await chat.say(orga, "90m") == en("callout.ask_send")
    summary, question = await chat.send(orga, "now")
    assert question == en("callout.ask_confirm")
    for line in (
        en("callout.field_what", value="Picket at Acme"),
        en("callout.field_when", value=when(start, pattern=LONG)),
        en("callout.field_where", value="12 Oak Street"),
        en("callout.field_people", value=6),
        en("callout.field_slots", value="1. drivers ×2 · 2. legal observer ×1"),
        en("callout.field_reveal", value=when(start - timedelta(minutes=90)), before="1 h 30 min"),
        en("callout.field_send", value="now"),
    ):
        assert line in summary.split("\n"), line
    assert await chat.say(orga, "back") == en("callout.ask_send")
    assert (await chat.send(orga, "ahora"))[-1] == en("callout.ask_confirm")
    assert await chat.say(orga, "hmm") == en("callout.unclear_confirm")
    created = await chat.say(orga, "yes")
    assert created.startswith("Call-out ") and "about 1 people" in created
    async with app.db.transaction() as session:
        row = (await session.scalars(select(Callout))).one()
    assert (row.status, row.expand_cursor) == ("sending", None)  # the sweep asks people
    assert b"Oak" not in row.body_ct and b"Picket" not in row.body_ct


async def test_callout_cancel_drops_the_draft_and_stores_nothing(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    orga = net.organizer
    await chat.send(orga, "callout Picket at Acme")
    await chat.send(orga, "tomorrow 18:00")
    assert await chat.say(orga, "cancel") == en("cancel.done")
    assert await callouts_stored(app) == 0
    assert await chat.say(orga, "12 Oak Street") == en("unknown.hint")


async def test_callout_one_line_form_ends_at_the_summary(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp, clock: Clock
) -> None:
    orga = net.organizer
    replies = await chat.send(
        orga, "callout Picket | tomorrow 18:00 | Oak St | 4 | 1 driver | all | - | 1 day | now"
    )
    assert replies[-1] == en("callout.ask_confirm")
    start = (clock.now + timedelta(days=1)).replace(hour=18, minute=0)
    assert en("callout.field_reveal", value=when(start - timedelta(days=1)), before="1 d") in (
        replies[0].split("\n")
    )
    assert await callouts_stored(app) == 0  # nothing until YES
    ref = (await chat.say(orga, "yes")).split()[1]
    assert await callouts_stored(app) == 1 and len(ref) == 6


async def test_callout_one_line_form_with_a_bad_part_asks_that_question_again(
    net: Network, chat: Chat, clock: Clock
) -> None:
    orga = net.organizer
    assert await chat.send(orga, "callout Picket | whenever | Oak St | 4") == [
        en("callout.when_unclear", text="whenever"),
        en("callout.ask_when", zone="UTC"),
    ]
    await chat.send(orga, "tomorrow 18:00")
    assert await chat.say(orga, "Oak St") == en("callout.ask_people")
    await chat.send(orga, "cancel")
    assert await chat.send(orga, "callout a | b | c | d | e | f | g | h | i | j") == [
        en("callout.oneline_too_many")
    ]


async def test_callout_send_time_must_come_before_the_start_and_schedules(
    net: Network, chat: Chat, app: LanternApp, clock: Clock
) -> None:
    orga = net.organizer
    start = (clock.now + timedelta(days=1)).replace(hour=18, minute=0)
    assert await chat.send(
        orga, "callout Picket | tomorrow 18:00 | Oak St | 4 | none | all | - | - | in 3 days 10:00"
    ) == [en("callout.send_after_start", when=when(start)), en("callout.ask_send")]
    assert (await chat.send(orga, "in 1 hour"))[-1] == en("callout.ask_confirm")
    reply = await chat.say(orga, "yes")
    assert reply.startswith("Call-out ") and "will go out" in reply
    async with app.db.transaction() as session:
        row = (await session.scalars(select(Callout))).one()
    assert row.status == "scheduled"


async def test_callout_in_spanish_reads_spanish_times(
    net: Network, chat: Chat, clock: Clock
) -> None:
    lucia = new_account()
    await join(chat, net, lucia, "lucia", lang="es", role="organizer")
    assert await chat.say(lucia, "convocar") == es("callout.ask_what")
    await chat.send(lucia, "Piquete en la obra")
    assert await chat.say(lucia, "ayer a las 10") == es("callout.when_past", text="ayer a las 10")
    start = (clock.now + timedelta(days=1)).replace(hour=19, minute=0)
    assert await chat.send(lucia, "mañana a las 7 de la tarde") == [
        es("callout.when_ok", when=when(start, "es", LONG)),
        es("callout.ask_where"),
    ]


async def test_callout_is_for_organizers_only(net: Network, chat: Chat, clock: Clock) -> None:
    ana = new_account()
    await join(chat, net, ana, "ana_m")
    assert await chat.say(ana, "callout Picket | tomorrow 18:00 | Oak | 3") == en("unknown.hint")
    assert len(await call_out(chat, net.organizer)) == 6
