"""End to end through the sandbox and unmodified signalbot: members sign up for a role in
English and Spanish, one pauses, and a call-out's driver place is offered first to the
driver who has not had a turn, then passed on; the paused driver hears nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.i18n import translate
from storage.models import utcnow
from tests.live import WEEK, Live
from tests.test_role_rotation import served_on

REF = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{6})\b")


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def test_e2e_roles_rotation_through_the_sandbox(booted_live: Live) -> None:
    live = booted_live
    olga = live.organizer
    assert olga is not None
    ben, cruz, dee = (live.state.create_persona(n) for n in ("Ben", "Cruz", "Dee"))
    await live.join(ben, "benw")
    await live.join(cruz, "cruz", lang="2")
    await live.join(dee, "dee_p")
    assert await live.say(ben, "signup drivers") == en("roles.signed", role="driver")
    assert await live.say(cruz, "apuntar conductora") == es("roles.signed", role="conductor/a")
    await live.say(dee, "signup driver")
    assert (await live.say(dee, "pause 2 weeks")).startswith("Rest well.")
    await served_on(live.app, live.cell, [ben.uuid], utcnow() - timedelta(days=5))

    line = "callout Deliver the letter | in 3 days | 12 Oak St | 4 | 1 driver | - | - | - | now"
    await live.talk(olga, line, replies=2)  # the summary, then "Send it?"
    found = REF.search((await live.talk(olga, "yes"))[-1])
    assert found is not None
    ref = found.group(1)
    cursor = live.state.last_seq
    await live.app.dispatcher.timers.tick()
    [offer] = await live.state.wait_for_deliveries(cruz.uuid, 1, since=cursor, timeout=8)
    assert offer.expires_in_seconds == WEEK
    assert "🔁" in (offer.text or "") and f"PASO {ref}" in (offer.text or "")
    [invitation] = await live.state.wait_for_deliveries(ben.uuid, 1, since=cursor, timeout=8)
    assert "🔁" not in (invitation.text or "")

    cursor = live.state.last_seq
    assert await live.say(cruz, f"paso {ref}") == es("rotation.passed", ref=ref, role="driver")
    [passed_on] = await live.state.wait_for_deliveries(ben.uuid, 1, since=cursor, timeout=8)
    assert "🔁" in (passed_on.text or "") and f"PASS {ref}" in (passed_on.text or "")
    took = await live.say(ben, f"yes {ref} driver")
    assert en("rsvp.slot_yours", slot="driver") in took
    assert live.state.deliveries(persona=dee.uuid, since=cursor) == []
