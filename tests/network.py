"""Bootstrapping a network in tests through the same CLI code and messages a real one uses."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.app import LanternApp
from bot.setup import init_network

if TYPE_CHECKING:
    from tests.conftest import Chat

SHARE = re.compile(r"^([a-z]+(?: [a-z]+){19,32})$", re.MULTILINE)
REF = re.compile(r"\(ref ([0-9A-Z]{5})\)")
CODE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$")


@dataclass
class Network:
    coordinators: list[str]
    shares: dict[str, str]
    cell: str
    organizer: str
    threshold: int
    extra: dict[str, str] = field(default_factory=dict)


def account() -> str:
    return str(uuid.uuid4())


def share_in(texts: list[str]) -> str:
    for text in texts:
        found = SHARE.search(text)
        if found:
            return found.group(1)
    raise AssertionError("no share words in the messages")


def code_in(texts: list[str]) -> str:
    for text in reversed(texts):
        if CODE.match(text.strip()):
            return text.strip()
    raise AssertionError(f"no code in {texts!r}")


async def enroll(chat: Chat, who: str, code: str, handle: str, lang: str = "en") -> list[str]:
    await chat.send(who, f"enroll {code}")
    await chat.send(who, lang)
    await chat.send(who, handle)
    return await chat.send(who, "yes")


async def bootstrap(
    app: LanternApp, chat: Chat, *, coordinators: int = 3, threshold: int = 2
) -> Network:
    codes = await init_network(
        app.db, name="Test network", coordinators=coordinators, threshold=threshold
    )
    await app.vault.start()
    people = [account() for _ in codes]
    shares: dict[str, str] = {}
    for i, (who, code) in enumerate(zip(people, codes, strict=True), start=1):
        await enroll(chat, who, code, f"coord{i}")
    for who in people:
        shares[who] = share_in([t for a, t in chat.messenger.sent if a == who])
    assert not app.vault.enrolling
    first = people[0]
    ref = REF.search(await chat.say(first, "cell new Riverside tenants"))
    assert ref is not None
    code = code_in(await chat.send(first, f"invite {ref.group(1)} organizer"))
    organizer = account()
    await chat.send(organizer, f"join {code}")
    await chat.send(organizer, "en")
    await chat.send(organizer, "orga")
    await chat.say(organizer, "yes")
    return Network(people, shares, ref.group(1), organizer, threshold)


async def invite(chat: Chat, net: Network, role: str = "member", cell: str | None = None) -> str:
    return code_in(await chat.send(net.organizer, f"invite {cell or net.cell} {role}"))
