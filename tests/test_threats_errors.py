"""Threat test 12: exceptions forced with plaintext in local variables and in their
messages (and chained causes and notes) leave 0 canaries in the logs, no traceback and no
locals; the person is told nothing was changed.  See shared/docs/security-model.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import LanternApp
from bot.context import Context
from bot.i18n import translate
from storage.journal import JournalRepository
from storage.members import MemberRepository
from tests.canary import Canaries, canary_word, debug_logs
from tests.conftest import Chat, FakeMessenger, new_account
from tests.helpers import invite, join
from tests.network import Network

SECRET = "Expediente de Rosalind Featherstone-Ochoa, portal 8, +34 611 22 33 44"


class Exploding(Exception):
    pass


def plaintext_error(*values: str) -> Exploding:
    """An exception whose message, cause, context and notes all carry plaintext, raised
    from a frame whose local variables hold it too."""
    secret_local_values = " | ".join(values)  # a local a traceback could show
    cause = OSError(f"cause: {secret_local_values}")
    error = Exploding(f"failed for {secret_local_values}")
    error.__cause__ = cause
    error.add_note(f"note: {secret_local_values}")
    return error


async def test_forced_exceptions_leave_no_plaintext_in_logs(
    net: Network,
    app: LanternApp,
    chat: Chat,
    messenger: FakeMessenger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Five places made to fail with plaintext (a command handler, a repository read
    before routing, a dialog step in Spanish, the journal write, a Signal send): each
    person gets the "nothing changed" / "try again" apology in their language, and the
    logs of every library at DEBUG hold no canary, no traceback, no local variable."""
    canaries = Canaries()
    member, joiner, stranger = new_account(), new_account(), new_account()
    handle = canaries.add_text("handle", canary_word("crash_"))
    await join(chat, net, member, handle)
    for label, account in (("member", member), ("joiner", joiner), ("stranger", stranger)):
        canaries.add_uuid(label, account)
    canaries.add_text("secret", SECRET)
    canaries.add_phone("phone", "+34611223344")
    draft_handle = canaries.add_text("draft", canary_word("draft_"))
    code = await invite(chat, net)
    await chat.send(joiner, f"join {code}")
    await chat.send(joiner, "2")  # Spanish from here on

    router = chat.dispatcher.router

    async def explode_handler(ctx: Context) -> None:
        secret_local_sender = ctx.sender  # noqa: F841
        assert ctx.member is not None
        raise plaintext_error(ctx.sender, ctx.member.handle, ctx.text, SECRET)

    async def explode_read(self: MemberRepository, account: str) -> Any:
        secret_local_account = account  # noqa: F841
        raise plaintext_error(account, SECRET)

    async def explode_step(self: MemberRepository, proposed: str) -> bool:
        raise plaintext_error(proposed, SECRET)

    async def explode_journal(self: JournalRepository, account: str, *args: Any) -> Any:
        raise plaintext_error(account, str(args), SECRET)

    async def explode_send(account: str, text: str) -> None:
        raise ConnectionError(f"cannot deliver {text!r} to {account} ({SECRET})")

    me = router.lookup("me")
    assert me is not None
    Setup = Callable[[pytest.MonkeyPatch], None]
    cases: list[tuple[str, Setup, str, str, str]] = [
        (
            "handler",
            lambda p: p.setitem(
                router._by_word, "me", dataclasses.replace(me, handler=explode_handler)
            ),
            member,
            f"me {SECRET}",
            translate("en", "error.internal"),
        ),
        (
            "repository",
            lambda p: p.setattr(MemberRepository, "by_account", explode_read),
            stranger,
            SECRET,
            translate("en", "error.internal"),
        ),
        (
            "dialog step",
            lambda p: p.setattr(MemberRepository, "handle_taken", explode_step),
            joiner,
            draft_handle,
            translate("es", "error.internal"),
        ),
        (
            "journal",
            lambda p: p.setattr(JournalRepository, "record", explode_journal),
            member,
            SECRET,
            translate("en", "error.unavailable"),
        ),
    ]
    results = {}
    with debug_logs(every_library=True) as sink:
        for name, setup, who, said, apology in cases:
            with monkeypatch.context() as patch:
                setup(patch)
                replies = await chat.send(who, said)
            results[name] = replies
            assert replies == [apology], name
        with monkeypatch.context() as patch:  # a send failing with plaintext in its error
            patch.setattr(messenger, "send_text", explode_send)
            await chat.send(member, "help")
        # nothing was half-done: the Spanish dialog is where it was, and goes on
        resumed = await chat.say(joiner, draft_handle)
        assert draft_handle in resumed and resumed != translate("es", "error.internal")
        captured = capsys.readouterr()
    logs = "\n".join((sink.getvalue(), captured.out, captured.err, caplog.text))
    assert logs.count("event='handler_failed'") == 3 and "error_type='Exploding'" in logs
    assert "event='journal_failed'" in logs and "event='delivery_failed'" in logs
    assert "error_type='ConnectionError'" in logs
    hits = canaries.hits(logs)
    forbidden = [w for w in ("Traceback", "secret_local", "cause:", "note:", 'File "') if w in logs]
    print(
        f"\nforced exceptions: {len(cases) + 1} places, apologies {sorted(results)}, "
        f"{len(hits)} canary hits, tracebacks/locals: {forbidden or 'none'}"
    )
    assert hits == [] and forbidden == []


def test_exception_helper_really_carries_plaintext() -> None:
    """Positive control: the forced exception does hold the canary where a careless
    logger (str, repr, traceback with cause and notes) would print it."""
    import traceback

    error = plaintext_error(SECRET)
    shown = "".join(traceback.format_exception(error))
    assert SECRET in str(error) and SECRET in shown and "note:" in shown and "cause:" in shown
