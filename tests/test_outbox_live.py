"""The outbox end to end: unmodified signalbot, the local Signal sandbox with its faults
(429 rate limit, 5xx, per-recipient failures, captcha), and a stop/restart mid-queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.config import Settings
from bot.context import URGENT
from sandbox.state import Persona
from storage.outbox import OutboxRepository
from tests.live import Live
from tests.outboxkit import fan_out, rows, standing

LINK = "signalcaptcha://signal-hcaptcha.5fad97ac-7d06-4e44-b18a-b950b20148ff.challenge.P1_eyJ0eXAi"


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def texts(live: Live, person: Persona) -> list[str]:
    return [d.text or "" for d in live.state.deliveries(persona=person.uuid)]


async def unseal(live: Live) -> None:
    c1, c2, _ = live.coordinators
    await live.say(c1, f"unseal {live.shares[c1.uuid]}")
    cursor = live.state.last_seq
    await live.state.inject_text(c2.uuid, f"unseal {live.shares[c2.uuid]}")
    await live.state.wait_for_deliveries(c2.uuid, 1, since=cursor, timeout=8)
    assert not live.app.vault.sealed


async def test_live_fanout_under_429_5xx_and_a_restart_arrives_exactly_once(
    booted_live: Live,
) -> None:
    live = booted_live
    people = [live.state.create_persona(f"P{i}") for i in range(60)]
    faults = {
        "rate_limit_per_second": 40.0,
        "rate_limit_burst": 5,
        "fail_probability": 0.15,
        "fail_path_prefix": "/v2/send",
        "seed": 7,
    }
    live.state.faults.update(**faults)
    await fan_out(live.app.dispatcher, [p.uuid for p in people], "Action at noon", priority=URGENT)
    await until(lambda: sum(bool(texts(live, p)) for p in people) >= 15)
    await live.restart()  # a stop never leaves a message sent but unmarked
    assert not [r for r in await rows(live.app) if r.state == "sending"]
    halfway = sum(bool(texts(live, p)) for p in people)
    assert halfway < len(people), "the restart must come mid-queue"
    live.state.faults.clear()  # the unseal replies are direct sends: no retries for them
    await unseal(live)
    live.state.faults.update(**faults)
    await until(lambda: all(texts(live, p) for p in people), timeout=30)
    await asyncio.sleep(0.3)  # anything sent twice would show up by now
    assert {p.name: texts(live, p) for p in people} == {
        p.name: [f"Action at noon #{i}"] for i, p in enumerate(people)
    }
    fanned = [r for r in await rows(live.app) if r.batch == "batch1"]
    assert len(fanned) == 60 and all(r.state == "sent" and not r.has_body for r in fanned)
    assert max(r.attempts for r in fanned) >= 1, "the 5xx faults were exercised"


async def test_live_per_recipient_failures_retry_and_unregistered_fail(booted_live: Live) -> None:
    live = booted_live
    flaky, fine = live.state.create_persona("Flaky"), live.state.create_persona("Fine")
    nobody = "00000000-0000-4000-8000-000000000123"  # not on Signal at all
    live.state.faults.update(recipient_failures={flaky.uuid: "NETWORK_FAILURE"})
    await fan_out(live.app.dispatcher, [flaky.uuid, fine.uuid, nobody], "hi")
    await until(lambda: bool(texts(live, fine)))
    assert texts(live, fine) == ["hi #1"] and texts(live, flaky) == []
    for _ in range(100):  # the loop may have taken a row from the fast path: let it finish
        by_order = [r for r in await rows(live.app) if r.batch == "batch1"]
        if not any(r.state == "sending" for r in by_order):
            break
        await asyncio.sleep(0.02)
    assert [(r.state, r.reason) for r in by_order] == [
        ("queued", "failed"),
        ("sent", None),
        ("failed", "unregistered"),
    ]
    live.state.faults.update(recipient_failures={})
    await until(lambda: bool(texts(live, flaky)))
    assert texts(live, flaky) == ["hi #0"]


def _env(settings: Settings) -> dict[str, str]:
    return {
        "LANTERN_BOT_NUMBER": settings.bot_number,
        "LANTERN_SIGNAL_SERVICE": settings.signal_service,
        "LANTERN_SIGNAL_CONNECTION": settings.signal_connection,
        "LANTERN_DATABASE_URL": settings.database_url,
        "LANTERN_DATA_DIR": str(settings.data_dir),
    }


async def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, list(args), env=_env(settings))
    return result.exit_code, result.output


async def _set_token(live: Live, token: str) -> None:
    from sqlalchemy import update

    from storage.models import DeliveryState

    async with live.app.db.transaction() as session:
        await session.execute(update(DeliveryState).values(challenge_token=token))


async def test_live_captcha_pauses_and_the_operator_solves_it_from_the_cli(
    booted_live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = booted_live
    settings = live.settings
    monkeypatch.setattr(settings, "retry_base_seconds", 30.0)  # no probe sends meanwhile
    assert (await _cli(settings, "captcha", LINK))[0] == 2  # nothing pending
    people = [live.state.create_persona(f"Q{i}") for i in range(5)]
    live.state.faults.update(captcha_required=True)
    await fan_out(live.app.dispatcher, [p.uuid for p in people], "Meet at 6")
    token = live.state.faults.captcha_token
    assert token and (await standing(live.app)).challenge == token
    code, shown = await _cli(settings, "outbox")
    assert code == 0 and "PENDING" in shown and "bulk" in shown
    assert token not in shown
    await asyncio.sleep(0.3)
    assert not any(texts(live, p) for p in people)  # paused
    assert (await _cli(settings, "captcha", "nonsense"))[0] == 2  # not a link
    await _set_token(live, "stale-token")
    assert (await _cli(settings, "captcha", LINK))[0] == 1  # Signal rejects it
    await _set_token(live, token)
    code, shown = await _cli(settings, "captcha", LINK)
    assert code == 0 and "accepted" in shown
    assert not live.state.faults.captcha_required
    await until(lambda: all(texts(live, p) for p in people), timeout=8)  # bot polls
    assert {p.name: texts(live, p) for p in people} == {
        p.name: [f"Meet at 6 #{i}"] for i, p in enumerate(people)
    }
    async with live.app.db.transaction() as session:
        assert await OutboxRepository(session, None).challenge() is None
