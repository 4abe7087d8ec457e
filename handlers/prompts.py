"""Coordinators answering escalation prompts: ``1``, ``2``, … or ``P7K2 2``; PROMPTS.

A bare number answers the open prompt this coordinator was asked most recently (if
several are open, they are asked which).  Anyone else typing the same gets exactly the
reply they get for any unknown text: the router only lets coordinators reach here.
Inside a dialog a bare number stays the dialog's answer (the router sees dialogs first).
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot import prompt_timers  # noqa: F401  (registers the stale/stalled decisions)
from bot.context import Context
from bot.i18n import _
from bot.prompts import ask_text, decide, option_text, options_block
from bot.router import Audience, Router
from storage.prompts import PromptView, normalise_prompt_ref

ANSWER = re.compile(
    r"/?(?:(?P<ref>p\s*-?\s*[0-9a-z]{4})(?:\s*[-:.,]?\s*(?P<number>\d{1,3}))?|(?P<bare>\d{1,3})[.)]?)",
    re.IGNORECASE,
)
LATE_WINDOW = timedelta(days=1)  # a bare number after this long means nothing open


def _late(ctx: Context, prompt: PromptView) -> None:
    option = option_text(prompt, ctx.language, prompt.option or prompt.default)
    if prompt.decided_by is None:
        ctx.reply(_("prompt.already_defaulted"), ref=prompt.ref, option=option)
    else:
        ctx.reply(
            _("prompt.already_decided"), ref=prompt.ref, handle=prompt.decided_by, option=option
        )


async def _by_ref(ctx: Context, raw: str, number: int | None) -> PromptView | None:
    ref = normalise_prompt_ref(raw)
    prompt = None if ref is None else await ctx.repos.prompts.by_ref(ref, lock=True)
    if prompt is None and number is None:
        await ctx.router.fallback(ctx)  # "pizza" is not a prompt: the usual reply
    elif prompt is None:
        ctx.reply(_("prompt.not_found"), ref=ref or raw.upper())
    return prompt


async def _mine(ctx: Context, number: int) -> PromptView | None:
    assert ctx.member is not None
    open_ = await ctx.repos.prompts.asked_open(ctx.member.id)
    if len(open_) > 1:
        refs = ", ".join(p.ref for p in open_)
        ctx.reply(
            _("prompt.which"), count=len(open_), refs=refs, example=f"{open_[0].ref} {number}"
        )
        return None
    if open_:
        return await ctx.repos.prompts.by_id(open_[0].id, lock=True)
    last = await ctx.repos.prompts.last_asked(ctx.member.id)
    if last is None or last.decided_at is None or ctx.now - last.decided_at > LATE_WINDOW:
        ctx.reply(_("prompt.none"))
        return None
    return last


async def cmd_answer(ctx: Context) -> None:
    found = ANSWER.fullmatch(ctx.text.strip())
    assert found is not None and ctx.member is not None
    raw_number = found.group("number") or found.group("bare")
    number = None if raw_number is None else int(raw_number)
    if found.group("ref"):
        prompt = await _by_ref(ctx, found.group("ref"), number)
    else:
        assert number is not None
        prompt = await _mine(ctx, number)
    if prompt is None:
        return
    if prompt.status != "open":
        _late(ctx, prompt)
    elif number is None:
        ctx.reply_text(ask_text(ctx, prompt, ctx.language))
    elif not 1 <= number <= len(prompt.options):
        ctx.reply(
            _("prompt.out_of_range"),
            ref=prompt.ref,
            count=len(prompt.options),
            options=options_block(prompt, ctx.language),
        )
    else:
        await decide(ctx, prompt, number)


async def cmd_prompts(ctx: Context) -> None:
    assert ctx.member is not None
    open_ = await ctx.repos.prompts.asked_open(ctx.member.id)
    if not open_:
        ctx.reply(_("prompt.list_none"))
        return
    parts = [ctx.t(_("prompt.list_header"), count=len(open_))]
    parts += [ask_text(ctx, prompt, ctx.language) for prompt in open_]
    ctx.reply_text("\n\n".join(parts))


def register(router: Router) -> None:
    router.command("prompts", "avisos", audience=Audience.COORDINATOR, summary=_("help.prompts"))(
        cmd_prompts
    )
    router.pattern("prompt-answer", ANSWER, audience=Audience.COORDINATOR)(cmd_answer)
