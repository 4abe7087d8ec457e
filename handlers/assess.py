"""ASSESS <id>: the organizers' winnability checklist, one question at a time.

```mermaid
stateDiagram-v2
    [*] --> attainable: ASSESS <id> (new or assessing)
    attainable --> leverage
    leverage --> committed
    committed --> others
    others --> capacity
    capacity --> comment
    comment --> [*]: recorded; new -> assessing; subject told
```

Answers are yes / no / not sure (1 / 2 / 3).  The assessment is recorded in the case's
encrypted history and kept as the case's current assessment; doing it again replaces
the current one and keeps the old one in the history.
"""

from __future__ import annotations

from bot import casework
from bot.casework import CRITERIA, assessment_line
from bot.context import Context
from bot.i18n import _, parse_three_way
from bot.policy import organized_case
from bot.router import Audience, Router, Step
from handlers.cases import hint, not_found, split_ref
from handlers.decisions import wrong_status

FLOW = "assess"
QUESTIONS = {
    "attainable": _("assess.ask_attainable"),
    "leverage": _("assess.ask_leverage"),
    "committed": _("assess.ask_committed"),
    "others": _("assess.ask_others"),
    "capacity": _("assess.ask_capacity"),
}
COMMENT_MAX = 1000
SKIP = frozenset({"-", "no", "none", "nada", "ninguno", "skip"})


async def cmd_assess(ctx: Context) -> None:
    raw, _rest = split_ref(ctx)
    case = await organized_case(ctx, raw)
    if case is None:
        not_found(ctx, raw)
        return
    if case.status not in ("new", "assessing"):
        wrong_status(ctx, case)
        return
    await ctx.router.start(ctx, FLOW, {"case": case.id, "ref": case.ref})


def _question(key: str) -> tuple[Step, Step]:
    async def ask(ctx: Context) -> None:
        assert ctx.dialog is not None
        ctx.reply(QUESTIONS[key], ref=ctx.dialog.data["ref"])

    async def answer(ctx: Context) -> None:
        choice = parse_three_way(ctx.text)
        if choice is None:
            ctx.reply(_("intake.unclear_three"))
            return
        await ctx.update_dialog(**{key: choice})
        await ctx.router.advance(ctx)

    return ask, answer


async def ask_comment(ctx: Context) -> None:
    ctx.reply(_("assess.ask_comment"))


async def answer_comment(ctx: Context) -> None:
    assert ctx.dialog is not None and ctx.member is not None
    comment = ctx.text.strip()
    if len(comment) > COMMENT_MAX:
        ctx.reply(_("intake.too_long"), max=COMMENT_MAX, length=len(comment))
        return
    if comment.casefold() in SKIP:
        comment = ""
    data = ctx.dialog.data
    await ctx.end_dialog()
    case = await organized_case(ctx, data["ref"], lock=True)
    if case is None or case.status not in ("new", "assessing"):
        ctx.reply(_("assess.stale"), ref=data["ref"])
        return
    assessment = {key: str(data.get(key, "unsure")) for key, _label in CRITERIA}
    assessment["comment"] = comment
    await ctx.repos.cases.update_body(case.id, assessment=assessment)
    summary = assessment_line(ctx, assessment)
    await ctx.repos.cases.add_event(
        case.id, "assessment", who=ctx.member.handle, now=ctx.now, text=summary
    )
    if case.status == "new":
        case = await casework.move(ctx, case, "assessing", who=ctx.member.handle)
    ctx.reply(_("assess.done"), ref=case.ref, summary=summary, hint=hint(ctx, case))


def register(router: Router) -> None:
    router.command("assess", "evaluar", audience=Audience.ORGANIZER, summary=_("help.assess"))(
        cmd_assess
    )
    for key, _label in CRITERIA:
        ask, answer = _question(key)
        router.step(FLOW, key, prompt=ask)(answer)
    router.step(FLOW, "comment", prompt=ask_comment)(answer_comment)
