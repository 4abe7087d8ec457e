"""Reactions as answers: 👍 / 👎 on a delivered call-out mean ``yes <ref>`` / ``no <ref>``.

signalbot's ``Reaction.timestamp`` is the *target* message's timestamp; the call-outs
repository remembers which (account, timestamp) pairs were call-outs it delivered
(``remember_sent``) and answers ``ref_for_reaction`` while the call-out is open.  Any
other emoji, a removed reaction, or a reaction to anything else is no answer: nothing
is sent back (a heart on a reminder needs no reply).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from storage.repositories import Repositories

THUMBS_UP = "\U0001f44d"
THUMBS_DOWN = "\U0001f44e"
_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")  # skin tones, emoji presentation
_WORDS = {THUMBS_UP: "yes", THUMBS_DOWN: "no"}


def answer_word(emoji: str | None, remove: bool) -> str | None:
    """``yes`` for 👍 (any skin tone), ``no`` for 👎; None for anything else."""
    if remove or not emoji:
        return None
    return _WORDS.get(_MODIFIERS.sub("", emoji.strip()))


async def reaction_text(
    repos: Repositories, account: str, body: Mapping[str, object]
) -> str | None:
    """The command a journaled reaction stands for, or None if it answers nothing."""
    word = answer_word(str(body.get("emoji") or ""), bool(body.get("remove")))
    target = body.get("target")
    if word is None or not isinstance(target, int):
        return None
    lookup = getattr(repos.callouts, "ref_for_reaction", None)
    if lookup is None:  # call-outs not there yet: nothing can be answered
        return None
    ref = await lookup(account, target)
    return None if ref is None else f"{word} {ref}"
