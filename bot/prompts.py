"""Escalation prompts: a question to coordinators with numbered options, a chain of
people to ask in turn (or all at once), and a default if nobody answers in time.

```mermaid
stateDiagram-v2
    [*] --> open: open_prompt (once per kind + subject + occasion)
    open --> open: step ran out, next coordinator asked (chain)
    open --> decided: a coordinator answers 1, 2, … (first answer wins)
    open --> defaulted: chain exhausted or deadline passed
```

Every feature uses it the same way: :func:`open_prompt` with message ids for the
question and options, and a decision function registered with :func:`on_decision` for
its kind, run in the same transaction that records the answer or the default.
Coordinators see only what the values say (refs and counts), never a place or a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.context import ROUTINE, URGENT, Context
from bot.i18n import _, translate
from bot.logging import get_logger
from storage.prompts import PromptView

log = get_logger("lantern.prompts")

Decision = Callable[[Context, str, int, str | None], Awaitable[None]]
_DECISIONS: dict[str, Decision] = {}
MAX_OPTIONS = 9


def on_decision(kind: str) -> Callable[[Decision], Decision]:
    """Register what a ``kind`` of prompt does once decided: ``(ctx, subject_id, choice,
    handle)``; ``handle`` is None when the default applied.  It runs inside the deciding
    transaction (an answer or a sweep), so it must only tell people (``ctx.tell``,
    ``ctx.queue``), never ``ctx.reply``, and must check the subject is still in a state
    the decision makes sense for."""

    def register(decide: Decision) -> Decision:
        _DECISIONS[kind] = decide
        return decide

    return register


async def open_prompt(
    ctx: Context,
    *,
    kind: str,
    subject_id: str,
    occasion: str,
    question: str,
    values: dict[str, object],
    options: list[str],
    default: int,
    deadline: datetime | None = None,
) -> str | None:
    """Ask the coordinators; the prompt's ref, or None if this occasion was asked before.

    ``question`` and ``options`` are message ids, translated for each coordinator and
    filled from ``values`` (plain JSON values: refs and counts, never a place or a
    person); ``default`` is 1-based.  In chain mode each coordinator has
    ``prompt_step_minutes``, shortened so the whole chain fits before ``deadline``;
    without a deadline it is a step per coordinator (one step in mode all).
    """
    if not 1 <= len(options) <= MAX_OPTIONS or not 1 <= default <= len(options):
        raise ValueError("a prompt needs 1 to 9 options and a default among them")
    council = await ctx.repos.cells.council()
    if council is None:
        return None
    coordinators = [
        c.id for c in await ctx.repos.members.with_role("coordinator") if not c.quarantined
    ]
    mode = ctx.settings.prompt_mode
    step = timedelta(minutes=ctx.settings.prompt_step_minutes)
    turns = max(1, len(coordinators)) if mode == "chain" else 1
    if deadline is None:
        deadline = ctx.now + step * turns
    step = min(step, max(deadline - ctx.now, timedelta(0)) / turns)
    prompt = await ctx.repos.prompts.create(
        council.id,
        kind=kind,
        subject_id=subject_id,
        occasion=occasion,
        question=question,
        values=dict(values),
        options=list(options),
        default=default,
        coordinators=coordinators,
        mode=mode,
        step_seconds=int(step.total_seconds()),
        step_deadline=min(ctx.now + step, deadline),
        deadline=deadline,
        now=ctx.now,
    )
    if prompt is None:
        return None
    log.info("prompt_opened", kind=kind, count=len(coordinators))
    for member_id in prompt.chain[:1] if mode == "chain" else prompt.chain:
        await _ask(ctx, prompt, member_id)
    return prompt.ref


# --- texts ---------------------------------------------------------------------------


def when(ctx: Context, language: str, moment: datetime) -> str:
    return str(
        format_datetime(
            moment,
            "EEE d MMM, HH:mm",
            tzinfo=ZoneInfo(ctx.settings.timezone),
            locale=language,
        )
    )


def option_text(prompt: PromptView, language: str, choice: int) -> str:
    return translate(language, prompt.options[choice - 1], **prompt.values)


def options_block(prompt: PromptView, language: str) -> str:
    return "\n".join(
        f"{n}. {option_text(prompt, language, n)}" for n in range(1, len(prompt.options) + 1)
    )


def _ends(prompt: PromptView) -> datetime:
    """When the default applies if nobody answers: after the last step of the chain."""
    left = len(prompt.chain) - prompt.step - 1 if prompt.mode == "chain" else 0
    return min(
        prompt.deadline, prompt.step_deadline + timedelta(seconds=prompt.step_seconds) * left
    )


def ask_text(ctx: Context, prompt: PromptView, language: str) -> str:
    """The question in ``language``: what, the options, how to answer, until when."""
    ends = _ends(prompt)
    values = {
        "ref": prompt.ref,
        "question": translate(language, prompt.question, **prompt.values),
        "options": options_block(prompt, language),
        "default": prompt.default,
        "until": when(ctx, language, prompt.step_deadline),
        "deadline": when(ctx, language, ends),
    }
    message = _("prompt.ask") if prompt.step_deadline >= ends else _("prompt.ask_chain")
    return translate(language, message, **values)


async def _tell(
    ctx: Context, member_id: str, message_id: str, prompt: PromptView, **values: object
) -> None:
    """A coordinator, in their language; ``option`` (1-based) is translated for them."""
    member = await ctx.repos.members.by_id(member_id)
    account = None if member is None else await ctx.repos.members.account_of(member_id)
    if member is None or account is None:
        return
    choice = values.pop("option", None)
    if isinstance(choice, int):
        values["option"] = option_text(prompt, member.language, choice)
    text = translate(member.language, message_id, ref=prompt.ref, **values)
    ctx.queue(account, text, priority=ROUTINE)


async def _ask(ctx: Context, prompt: PromptView, member_id: str) -> None:
    member = await ctx.repos.members.by_id(member_id)
    account = None if member is None else await ctx.repos.members.account_of(member_id)
    if member is None or account is None:
        return
    await ctx.repos.prompts.asked(prompt.id, member_id, now=ctx.now)
    ctx.queue(account, ask_text(ctx, prompt, member.language), priority=URGENT)


# --- deciding ------------------------------------------------------------------------


async def _run(ctx: Context, prompt: PromptView, choice: int, handle: str | None) -> None:
    decide = _DECISIONS.get(prompt.kind)
    if decide is None:
        log.warning("prompt_kind_unknown", kind=prompt.kind)
        return
    await decide(ctx, prompt.subject_id, choice, handle)


async def decide(ctx: Context, prompt: PromptView, choice: int) -> None:
    """A coordinator's answer to an open prompt (locked by the caller): record it, tell
    them and every other coordinator asked, then do what was decided."""
    assert ctx.member is not None
    me = ctx.member
    await ctx.repos.prompts.asked(prompt.id, me.id, now=ctx.now)
    await ctx.repos.prompts.decide(prompt.id, option=choice, handle=me.handle, now=ctx.now)
    ctx.reply(
        _("prompt.recorded"), ref=prompt.ref, option=option_text(prompt, ctx.language, choice)
    )
    for member_id in prompt.asked:
        if member_id != me.id:
            await _tell(
                ctx, member_id, _("prompt.decided_by"), prompt, handle=me.handle, option=choice
            )
    log.info("prompt_decided", kind=prompt.kind)
    await _run(ctx, prompt, choice, me.handle)


async def apply_default(ctx: Context, prompt: PromptView) -> None:
    await ctx.repos.prompts.decide(prompt.id, option=prompt.default, handle=None, now=ctx.now)
    for member_id in prompt.asked:
        await _tell(ctx, member_id, _("prompt.defaulted"), prompt, option=prompt.default)
    log.info("prompt_defaulted", kind=prompt.kind)
    await _run(ctx, prompt, prompt.default, None)


async def step_due(ctx: Context, prompt_id: str) -> None:
    """The current step ran out: ask the next coordinator in the chain who can still
    answer, or apply the default (chain exhausted, mode all, or deadline passed)."""
    prompt = await ctx.repos.prompts.by_id(prompt_id, lock=True)
    if prompt is None or prompt.status != "open" or prompt.step_deadline > ctx.now:
        return
    following = None
    if prompt.mode == "chain" and ctx.now < prompt.deadline:
        for index in range(prompt.step + 1, len(prompt.chain)):
            member = await ctx.repos.members.by_id(prompt.chain[index])
            if member is not None and member.is_coordinator and not member.quarantined:
                following = index
                break
    if following is None:
        await apply_default(ctx, prompt)
        return
    if prompt.step < len(prompt.chain) and prompt.chain[prompt.step] in prompt.asked:
        await _tell(ctx, prompt.chain[prompt.step], _("prompt.moved_on"), prompt)
    step_deadline = min(ctx.now + timedelta(seconds=prompt.step_seconds), prompt.deadline)
    await ctx.repos.prompts.advance(prompt.id, step=following, step_deadline=step_deadline)
    moved = await ctx.repos.prompts.by_id(prompt.id)
    assert moved is not None
    await _ask(ctx, moved, moved.chain[following])
