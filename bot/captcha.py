"""Signal's captcha challenge: reading the solved link, telling coordinators, solving it
from the operator's command line.

When Signal answers a send with a challenge token, sending pauses until someone solves
a captcha for this account: open https://signalcaptchas.org/challenge/generate.html,
solve it, copy the ``signalcaptcha://…`` link behind "Open Signal", and either send
``captcha <link>`` to the bot (coordinators) or run ``lantern captcha <link>``.  The token
lives in ``delivery_state`` in plain (it identifies nobody), so the CLI works while the
bot is sealed; the running bot notices within seconds.
"""

from __future__ import annotations

import re
from enum import IntEnum

from bot.i18n import _, translate
from bot.logging import get_logger
from bot.messenger import Messenger
from bot.signalapi import ChallengeRejected, SignalAPI
from security import Keyring
from storage.db import Database
from storage.outbox import OutboxRepository
from storage.repositories import Repositories

log = get_logger("lantern.captcha")

SCHEME = "signalcaptcha://"
_TOKEN = re.compile(r"^[A-Za-z0-9._\-]{16,4000}$")


def captcha_link(text: str) -> str | None:
    """The ``signalcaptcha://…`` link (with or without the scheme), or None if it is not
    shaped like one.  Always returned with the scheme, as signal-cli accepts it."""
    value = text.strip().strip("<>\"'")
    if value.lower().startswith(SCHEME):
        value = value[len(SCHEME) :]
    if not value.startswith("signal") or not _TOKEN.match(value):
        return None
    return SCHEME + value


async def tell_coordinators(db: Database, keys: Keyring, messenger: Messenger) -> int:
    """A direct attempt (the outbox is paused) to tell each coordinator, in their
    language, how to solve the captcha.  Signal may refuse these too; how many went."""
    targets: list[tuple[str, str]] = []
    async with db.transaction() as session:
        repos = Repositories(session, keys)
        for coordinator in await repos.members.with_role("coordinator"):
            account = await repos.members.account_of(coordinator.id)
            if account is not None:
                targets.append((account, coordinator.language))
    told = 0
    for account, language in targets:
        try:
            await messenger.send_text(account, translate(language, _("captcha.required")))
            told += 1
        except Exception as exc:
            log.warning("captcha_notice_failed", error_type=type(exc).__name__)
    return told


class Solved(IntEnum):
    """``lantern captcha`` exit codes."""

    OK = 0
    REJECTED = 1
    NOTHING = 2


async def solve(db: Database, api: SignalAPI, link: str) -> Solved:
    """Submit ``link`` with the pending token; on success the bot resumes sending.

    Raises :class:`bot.signalapi.Unavailable` if signal-cli-rest-api does not answer.
    """
    async with db.transaction() as session:
        token = await OutboxRepository(session, None).challenge()
    if token is None:
        return Solved.NOTHING
    try:
        await api.submit_challenge(token, link)
    except ChallengeRejected:
        log.warning("captcha_rejected")
        return Solved.REJECTED
    async with db.transaction() as session:
        await OutboxRepository(session, None).clear_challenge(token)
    log.warning("captcha_solved")
    return Solved.OK
