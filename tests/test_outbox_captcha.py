"""Signal's captcha challenge: everything pauses, coordinators are told once how to lift
it, and ``captcha <link>`` (or the CLI) resumes sending at once."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from bot.app import LanternApp
from bot.captcha import captcha_link
from bot.i18n import translate
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import join
from tests.network import Network
from tests.outboxkit import fan_out, rows, standing

LINK = "signalcaptcha://signal-hcaptcha.5fad97ac-7d06-4e44-b18a-b950b20148ff.challenge.P1_eyJ0eXAi"
TOKEN = "3f7c1a52-0c8e-4f0e-9a57-7b0f2f0d8e11"


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def texts_to(messenger: FakeMessenger, account: str) -> list[str]:
    return [t for a, t in messenger.sent if a == account]


async def challenged(chat: Chat, messenger: FakeMessenger, people: list[str]) -> None:
    """Signal challenges sends to these new recipients (as it does to unknown ones)."""
    messenger.captcha = TOKEN
    messenger.captcha_for = set(people)
    await fan_out(chat.dispatcher, people, "action tomorrow")


async def test_captcha_pauses_everything_and_tells_each_coordinator_once(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    people = [new_account() for _ in range(5)]
    tries = messenger.attempts
    with capture_logs() as logs:
        await challenged(chat, messenger, people)
        await fan_out(chat.dispatcher, [new_account()], "more", batch="b2")
    state = await standing(app)
    assert state.challenge == TOKEN and state.challenged_at is not None
    assert [e["event"] for e in logs].count("captcha_required") == 1
    assert TOKEN not in str(logs) and not any(p in str(logs) for p in people)
    for coordinator in net.coordinators:
        assert texts_to(messenger, coordinator).count(en("captcha.required")) == 1
    assert "https://signalcaptchas.org/challenge/generate.html" in en("captcha.required")
    assert "lantern captcha" in en("captcha.required")
    # nothing but that one try went to the challenged recipients; the rest waits, uncounted
    assert messenger.attempts - tries == 1 + len(net.coordinators)
    queued = [r for r in await rows(app) if r.batch]
    assert len(queued) == 6 and all(r.state == "queued" and r.attempts == 0 for r in queued)
    assert await chat.dispatcher.outbox.flush_due() == 0  # the sender stays paused


async def test_captcha_command_submits_the_token_and_resumes_at_once(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    people = [new_account() for _ in range(3)]
    await challenged(chat, messenger, people)
    chat.dispatcher.outbox.start()
    try:
        coordinator = net.coordinators[1]
        assert await chat.say(coordinator, f"captcha {LINK}") == en("captcha.done")
        assert messenger.challenges == [(TOKEN, LINK)]
        assert (await standing(app)).challenge is None
        for _ in range(100):  # woken after commit, not at its next poll
            if all(texts_to(messenger, p) for p in people):
                break
            await asyncio.sleep(0.01)
        assert {p: texts_to(messenger, p) for p in people} == {
            p: [f"action tomorrow #{i}"] for i, p in enumerate(people)
        }
    finally:
        await chat.dispatcher.outbox.stop()
    assert all(r.state == "sent" for r in await rows(app))


async def test_captcha_command_answers_clearly(
    net: Network, chat: Chat, messenger: FakeMessenger, app: LanternApp
) -> None:
    coordinator = net.coordinators[0]
    assert await chat.say(coordinator, f"captcha {LINK}") == en("captcha.none")
    await challenged(chat, messenger, [new_account()])
    # a reply still gets through a captcha pause when Signal takes it
    assert await chat.say(coordinator, "captcha not-a-link") == en("captcha.usage")
    messenger.captcha = "another-token"  # what we hold is stale now
    messenger.captcha_for = {"nobody"}
    assert await chat.say(coordinator, f"captcha {LINK}") == en("captcha.rejected")
    assert (await standing(app)).challenge == TOKEN
    member = new_account()
    await join(chat, net, member, "plain")
    assert await chat.say(member, f"captcha {LINK}") == en("unknown.hint")
    assert await chat.say(net.organizer, f"desafío {LINK}") == en("unknown.hint")


async def test_captcha_probe_notices_a_challenge_lifted_elsewhere(
    net: Network,
    chat: Chat,
    messenger: FakeMessenger,
    app: LanternApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.settings, "retry_base_seconds", 0.01)  # probe every 0.2 s
    people = [new_account() for _ in range(3)]
    await challenged(chat, messenger, people)
    assert await chat.dispatcher.outbox.flush_due() == 0
    messenger.captcha = None  # solved on another device
    await asyncio.sleep(0.25)
    assert await chat.dispatcher.outbox.flush_due() == 3
    assert (await standing(app)).challenge is None


def test_captcha_link_is_recognised_with_or_without_its_scheme() -> None:
    bare = LINK.removeprefix("signalcaptcha://")
    assert captcha_link(LINK) == LINK
    assert captcha_link(f"  <{bare}> ") == LINK
    for bad in ("", "hello", "signalcaptcha://", "https://example.org/x", "signal- x y"):
        assert captcha_link(bad) is None
