"""Small helpers shared by test modules."""

from __future__ import annotations

from bot.i18n import normalise_language, translate
from tests.conftest import Chat
from tests.network import Network
from tests.network import invite as invite


async def join(
    chat: Chat, net: Network, account: str, handle: str, lang: str = "en", role: str = "member"
) -> None:
    code = await invite(chat, net, role)
    await chat.send(account, f"join {code}")
    await chat.send(account, lang)
    await chat.send(account, handle)
    reply = await chat.say(account, "yes")
    language = normalise_language(lang) or "en"
    assert reply == translate(
        language, "join.done", handle=handle, cell="Riverside tenants", ref=net.cell
    )
