"""Small helpers shared by test modules."""

from __future__ import annotations

from datetime import timedelta

from bot.app import LanternApp
from bot.i18n import normalise_language, translate
from bot.invites import create_invites
from tests.conftest import Chat


async def invite(app: LanternApp, role: str = "member", hours: int = 72) -> str:
    [code] = await create_invites(app.db, app.keys, role, 1, timedelta(hours=hours))
    return code


async def join(chat: Chat, app: LanternApp, account: str, handle: str, lang: str = "en") -> None:
    code = await invite(app)
    await chat.send(account, f"join {code}")
    await chat.send(account, lang)
    await chat.send(account, handle)
    reply = await chat.say(account, "yes")
    assert reply == translate(normalise_language(lang) or "en", "join.done", handle=handle)
