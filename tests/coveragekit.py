"""Helpers for the coverage, load and covenant tests: a fight taken to its end, role
holders, a history of call-out answers, and a handler context for calling a hook
directly (what a re-run after a crash would do)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.app import LanternApp
from bot.context import Context
from bot.i18n import translate
from storage.models import Cell, Covenant, utcnow
from storage.repositories import Repositories
from tests.casework import Case, bring_fight, open_intake
from tests.conftest import Chat, new_account
from tests.network import Network
from tests.test_debrief import Action, make_action


def en(message_id: str, /, **values: object) -> str:
    return translate("en", message_id, **values)


def es(message_id: str, /, **values: object) -> str:
    return translate("es", message_id, **values)


async def fight_to_the_end(
    chat: Chat,
    net: Network,
    *,
    outcome: str = "won",
    subject: str | None = None,
    lang: str = "en",
) -> Case:
    """A fight brought by a stranger (or by the member ``subject``), assessed, accepted,
    one rung climbed and closed with ``outcome``."""
    await open_intake(chat, net)
    who = subject or new_account()
    case = await bring_fight(chat, who, lang=lang, name=None if subject else "Rosa")
    orga, ref = net.organizer, case.ref
    await chat.send(orga, f"assess {ref}")
    for answer in ("1", "1", "1", "1", "1", "-"):
        await chat.send(orga, answer)
    await chat.send(orga, f"accept {ref}")
    await chat.send(orga, f"next {ref}")
    assert (await chat.send(orga, f"close {ref} {outcome}"))[-1] == en(
        "close.done", ref=ref, days=90
    )
    return case


@asynccontextmanager
async def handler_context(
    app: LanternApp, chat: Chat, sender: str = "", now: datetime | None = None
) -> AsyncIterator[Context]:
    """A context as the dispatcher builds one, in one transaction (committed on exit)."""
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        yield Context(
            sender=sender,
            text="",
            settings=chat.dispatcher.settings,
            repos=repos,
            now=now or utcnow(),
            router=chat.dispatcher.router,
            member=await repos.members.by_account(sender) if sender else None,
        )


async def covenants(app: LanternApp) -> list[Covenant]:
    async with app.db.transaction() as session:
        return list((await session.scalars(select(Covenant))).all())


async def member_id(app: LanternApp, account: str) -> str:
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        member = await Repositories(session, keys).members.by_account(account)
        assert member is not None
        return member.id


async def sign_up(app: LanternApp, accounts: list[str], role: str, *, paused: bool = False) -> None:
    """Role holders, through the role repository (the SIGNUP command is tested in its
    own module)."""
    keys = app.vault.keys
    assert keys is not None
    async with app.db.transaction() as session:
        repos = Repositories(session, keys)
        for account in accounts:
            member = await repos.members.by_account(account)
            assert member is not None
            await repos.roles.signup(member.id, role, detail=None, now=utcnow())
            if paused:
                await repos.roles.pause(member.id, utcnow() + timedelta(days=30))


async def history(
    app: LanternApp, net: Network, yes_counts: dict[str, int], *, before: datetime
) -> list[Action]:
    """Past actions of the cell, already over: person ``a`` said yes to the first
    ``yes_counts[a]`` of them (and no to the rest), one action a day before ``before``."""
    rounds = max(yes_counts.values())
    actions = []
    for i in range(rounds):
        answers: dict[str, str | None] = {
            a: ("yes" if i < n else "no") for a, n in yes_counts.items()
        }
        starts = before - timedelta(days=i + 1)
        actions.append(await make_action(app, net.cell, answers, starts_at=starts, status="done"))
    return actions


async def warned_at(app: LanternApp, cell_ref: str) -> datetime | None:
    async with app.db.transaction() as session:
        return await session.scalar(select(Cell.load_warned_at).where(Cell.ref == cell_ref))
