"""``lantern demo --bundled``: the bundled scenario plays end to end on the real stack."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

import bot.demo
from bot.demo import bundled_scenario, run_demo
from bot.i18n import translate


async def test_demo_bundled_scenario_answers_every_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.demo, "QUIET", 0.2)  # how long replies may trickle in
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert await run_demo(data_dir=tmp_path / "unused", script=bundled_scenario()) == 0
    out = capsys.readouterr().out
    assert "Scenario finished: every message was answered." in out
    assert "(the bot is up: enrolling)" in out
    assert "(disappears after 1 hour)" in out  # the shares' short timer
    before, _, after = out.partition("(the bot is up: sealed)")
    assert translate("en", "sealed.received") not in before
    sealed, _, unsealed = after.partition(translate("en", "unseal.done"))
    assert sealed.count(translate("en", "sealed.received")) == 3
    assert translate("en", "unseal.accepted", count=1, needed=2) in sealed
    # the member who waited gets her real answer, in Spanish, after the second share
    assert unsealed.index("bot → Ana") < unsealed.index("alias: ana_rojas")
    assert translate("en", "unseal.announce", count=3) in unsealed
    left = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
    assert left == []  # a scripted run leaves no database behind


async def test_demo_exits_1_when_a_message_gets_no_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.demo, "REPLY_TIMEOUT", 1.0)
    monkeypatch.setattr(bot.demo, "QUIET", 0.05)
    script = tmp_path / "flood.txt"
    lines = ["persona Coral", "persona Dario", "init coordinators=2 threshold=2", "persona Sam"]
    lines += ["Sam: hello"] * 21  # the per-sender rate limit drops the 21st without a reply
    script.write_text("\n".join(lines), encoding="utf-8")
    assert await run_demo(data_dir=tmp_path / "unused", script=script) == 1


@pytest.mark.parametrize(
    "lines",
    [
        ["persona Ana", "Ana: hello"],  # the bot only runs after init
        ["init coordinators=3 threshold=2 colour=red"],
        ["persona Ana", "init", "capture x code from Ana"],
        ["persona Ana", "init", "Ana: {nothing}"],
        ["dance"],
    ],
)
async def test_demo_exits_2_on_a_scenario_it_cannot_play(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str]
) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("\n".join(lines), encoding="utf-8")
    assert await run_demo(data_dir=tmp_path / "unused", script=script) == 2
    assert "scenario error: line" in capsys.readouterr().err


async def test_demo_interactive_sets_up_then_takes_typed_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.demo, "QUIET", 0.2)
    typed = iter(
        [
            "/restart",
            "/as Ben",
            "help",
            "/as Coral",
            "/unseal {coral_share}",
            "/as Dario",
            "unseal {dario_share}",
            "hello {nothing}",
            "/dance",
            "/quit",
        ]
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    data = tmp_path / "demo-data"
    assert await run_demo(data_dir=data, script=None) == 0
    out = capsys.readouterr().out
    played, _, typed_part = out.partition("Lantern demo")
    assert "Olga → bot: invite" in played and "Ana → bot" not in played  # up to handover
    sealed, _, unsealed = typed_part.partition(translate("en", "unseal.done"))
    assert "Ben → bot: help" in sealed and translate("en", "sealed.received") in sealed
    assert unsealed.index("bot → Ben") < unsealed.index(translate("en", "help.header"))
    assert "{nothing} is not set" in unsealed and "unknown demo command" in unsealed
