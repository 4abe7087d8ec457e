"""Debriefs after an action: the dialog, who may write and read them, storage at rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.app import LanternApp
from bot.i18n import translate
from storage.callouts import Audience
from storage.models import Debrief, utcnow
from storage.repositories import Repositories
from tests.canary import Canaries, at_rest, canary_word
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import REF, Network, code_in

WHAT = "Picket at Acme Properties"


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


@dataclass
class Action:
    id: str
    ref: str
    starts_at: datetime


@dataclass
class Crew:
    """The cell's organizer plus members who answered yes (ana en, bea es), no (cy) and
    maybe (dee)."""

    ana: str
    bea: str
    cy: str
    dee: str


async def crew(chat: Chat, net: Network) -> Crew:
    people = Crew(new_account(), new_account(), new_account(), new_account())
    await join(chat, net, people.ana, "ana_r")
    await join(chat, net, people.bea, "bea_r", lang="es")
    await join(chat, net, people.cy, "cy_r")
    await join(chat, net, people.dee, "dee_r")
    return people


async def make_action(
    app: LanternApp,
    cell_ref: str,
    answers: dict[str, str | None],
    *,
    starts_at: datetime,
    what: str = WHAT,
    status: str = "sent",
) -> Action:
    """A delivered call-out and the answers of the people asked, through the call-out
    repository (the call-out dialog and fan-out are tested in their own modules)."""
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        cell = await repos.cells.by_ref(cell_ref)
        assert cell is not None
        view = await repos.callouts.create(
            cell.id,
            what=what,
            where="12 Oak Street",
            wanted=5,
            slots=[],
            audience=Audience(cells=(cell.id,)),
            starts_at=starts_at,
            reveal_at=starts_at - timedelta(hours=2),
            send_at=starts_at - timedelta(days=1),
            status=status,
            created_by="orga",
            now=utcnow(),
        )
        for account, answer in answers.items():
            member = await repos.members.by_account(account)
            assert member is not None
            await repos.callouts.add_members(view.id, [member.id])
            if answer is not None:
                await repos.callouts.set_answer(
                    view.id, member.id, answer=answer, slot=None, now=utcnow()
                )
    return Action(view.id, view.ref, starts_at)


async def past_action(
    app: LanternApp, net: Network, people: Crew, *, hours_ago: float = 4
) -> Action:
    answers: dict[str, str | None] = {
        people.ana: "yes",
        people.bea: "yes",
        people.cy: "no",
        people.dee: "maybe",
    }
    return await make_action(
        app, net.cell, answers, starts_at=utcnow() - timedelta(hours=hours_ago)
    )


async def other_cell(chat: Chat, net: Network) -> tuple[str, str]:
    """(cell ref, organizer) of a second cell, made the way a coordinator does it."""
    found = REF.search(await chat.say(net.coordinators[0], "cell new Harbourside dockers"))
    assert found is not None
    code = code_in(await chat.send(net.coordinators[0], f"invite {found.group(1)} organizer"))
    organizer = new_account()
    for said in (f"join {code}", "1", "bosun_r"):
        await chat.send(organizer, said)
    await chat.say(organizer, "yes")
    return found.group(1), organizer


# --- the dialog ---------------------------------------------------------------------


async def test_debrief_organizer_dialog_in_english_with_back_and_bad_turnout(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await crew(chat, net)
    action = await past_action(app, net, people)
    orga, ref = net.organizer, action.ref
    assert await chat.send(orga, f"debrief {ref}") == [
        en("debrief.intro", ref=ref, count=5),
        en("debrief.ask_turnout"),
    ]
    assert await chat.say(orga, "about forty") == en("debrief.bad_turnout")
    assert await chat.say(orga, "-3") == en("debrief.bad_turnout")
    assert await chat.say(orga, "4²") == en("debrief.bad_turnout")
    assert await chat.say(orga, "41") == en("debrief.ask_won")
    assert await chat.say(orga, "back") == en("debrief.ask_turnout")
    assert await chat.say(orga, "42") == en("debrief.ask_won")
    assert await chat.say(orga, "   ") == en("debrief.empty")
    assert await chat.say(orga, "Deposits returned to two families") == en("debrief.ask_skills")
    assert await chat.say(orga, "Marshalling, speaking to press") == en("debrief.ask_leaders")
    assert await chat.say(orga, "ana_r, bea_r") == en("debrief.ask_wellbeing")
    summary, confirm = await chat.send(orga, "Tired but proud")
    assert summary.splitlines() == [
        en("debrief.summary_header", ref=ref),
        en("debrief.field_turnout", value=42),
        en("debrief.field_won", value="Deposits returned to two families"),
        en("debrief.field_skills", value="Marshalling, speaking to press"),
        en("debrief.field_leaders", value="ana_r, bea_r"),
        en("debrief.field_wellbeing", value="Tired but proud"),
    ]
    assert confirm == en("debrief.ask_confirm")
    assert await chat.say(orga, "maybe") == en("debrief.not_saved")
    assert await chat.say(orga, "yes") == en("debrief.saved", ref=ref)
    async with app.db.transaction() as session:
        assert len((await session.scalars(select(Debrief))).all()) == 1


async def test_debrief_member_dialog_in_spanish_skips_turnout_cancel_and_redo(
    net: Network, chat: Chat, app: LanternApp, messenger: FakeMessenger
) -> None:
    people = await crew(chat, net)
    action = await past_action(app, net, people)
    bea, ref = people.bea, action.ref
    assert await chat.send(bea, f"balance {ref}") == [
        es("debrief.intro", ref=ref, count=4),
        es("debrief.ask_won"),
    ]
    assert await chat.send(bea, "atrás") == [
        translate("es", "back.at_start"),
        es("debrief.ask_won"),
    ]
    assert await chat.say(bea, "nada aún") == es("debrief.ask_skills")
    assert await chat.say(bea, "cancelar") == translate("es", "cancel.done")
    await chat.send(bea, f"balance {ref}")
    for said in ("Devolvieron dos fianzas", "Traducir", "ninguna"):
        await chat.send(bea, said)
    summary, confirm = await chat.send(bea, "Contentas")
    assert es("debrief.field_won", value="Devolvieron dos fianzas") in summary.splitlines()
    assert not any(line.startswith("Asistencia") for line in summary.splitlines())
    assert confirm == es("debrief.ask_confirm")
    before = len(messenger.sent)
    assert await chat.say(bea, "sí") == es("debrief.saved", ref=ref)
    await chat.dispatcher.outbox.flush_due()  # routine notices go after the replies
    told = [t for a, t in messenger.sent[before:] if a == net.organizer]
    assert told == [en("debrief.received", ref=ref, handle="bea_r")]
    # a second debrief by the same person replaces the first
    await chat.send(bea, f"balance {ref}")
    for said in ("Más de lo esperado", "Traducir", "ninguna", "Bien"):
        await chat.send(bea, said)
    assert await chat.say(bea, "sí") == es("debrief.replaced", ref=ref)
    shown = await chat.say(net.organizer, f"debrief {ref} show")
    assert "Más de lo esperado" in shown and "Devolvieron" not in shown


async def test_debrief_only_organizers_and_confirmed_others_get_not_found(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await crew(chat, net)
    action = await past_action(app, net, people)
    ref = action.ref
    for who in (people.cy, people.dee, net.coordinators[0]):  # said no, maybe; coordinator
        assert await chat.say(who, f"debrief {ref}") == en("debrief.not_found", ref=ref)
    assert await chat.say(people.ana, f"debrief {ref} show") == en(
        "debrief.show_organizers", ref=ref
    )
    soon = await make_action(
        app, net.cell, {people.ana: "yes"}, starts_at=utcnow() + timedelta(hours=5)
    )
    assert await chat.say(people.ana, f"debrief {soon.ref}") == en("debrief.not_yet", ref=soon.ref)
    off = await make_action(
        app, net.cell, {}, starts_at=utcnow() - timedelta(hours=5), status="cancelled"
    )
    assert await chat.say(net.organizer, f"debrief {off.ref}") == en(
        "debrief.cancelled", ref=off.ref
    )


async def test_debrief_other_cell_ids_answer_like_random_ids(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await crew(chat, net)
    mine = await past_action(app, net, people)
    other_ref, bosun = await other_cell(chat, net)
    theirs = await make_action(app, other_ref, {}, starts_at=utcnow() - timedelta(hours=5))
    random_ref = "ZZZZ99" if "ZZZZ99" not in (mine.ref, theirs.ref) else "YYYY88"
    for command in ("debrief {}", "debrief {} show", "balance {} ver"):
        real = await chat.send(bosun, command.format(mine.ref))
        fake = await chat.send(bosun, command.format(random_ref))
        assert [t.replace(mine.ref, "<ID>") for t in real] == [
            t.replace(random_ref, "<ID>") for t in fake
        ]
        assert real == [en("debrief.not_found", ref=mine.ref)]
    # and the other way round: our organizer cannot debrief or read theirs
    assert await chat.say(net.organizer, f"debrief {theirs.ref} show") == en(
        "debrief.not_found", ref=theirs.ref
    )
    assert await chat.say(people.ana, "debrief nonsense!") == en(
        "debrief.not_found", ref="NONSENSE"
    )


async def test_debrief_show_lists_handles_and_answers_for_organizers(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await crew(chat, net)
    action = await past_action(app, net, people)
    ref = action.ref
    assert await chat.say(net.organizer, f"debrief {ref} show") == en("debrief.none_yet", ref=ref)
    for said in (f"debrief {ref}", "Two deposits back", "Speaking", "none", "Good", "yes"):
        await chat.send(people.ana, said)
    for said in (f"debrief {ref}", "12", "Press coverage", "Marshalling", "ana_r", "Proud", "yes"):
        await chat.send(net.organizer, said)
    shown = (await chat.say(net.organizer, f"debrief {ref} show")).splitlines()
    assert shown[0] == en("debrief.show_header", ref=ref, what=WHAT, count=2)
    items = [line for line in shown if line.startswith("— ")]
    assert [i.split(" (")[0] for i in items] == ["— ana_r", "— orga"]
    assert "(" + en("debrief.who_attendee") + ")" in items[0]
    assert en("debrief.field_turnout", value=12) in shown
    assert en("debrief.field_won", value="Two deposits back") in shown
    assert people.ana not in "\n".join(shown)


async def test_debrief_stored_encrypted_no_plaintext_at_rest(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    people = await crew(chat, net)
    action = await past_action(app, net, people)
    c = Canaries()
    said = {k: c.add_text(k, f"{k} {canary_word(k[:4], 10)}") for k in ("won", "skills", "how")}
    for line in (f"debrief {action.ref}", said["won"], said["skills"], "none", said["how"], "yes"):
        await chat.send(people.ana, line)
    assert said["won"] in await chat.say(net.organizer, f"debrief {action.ref} show")
    async with app.db.transaction() as session:
        rows = (await session.scalars(select(Debrief))).all()
    assert len(rows) == 1 and rows[0].callout_id == action.id
    hits = (await at_rest(app.db)).hits(c)
    assert hits == []
