"""Reading each answer of the call-out dialog (and of its one-line form) and the summary
shown before sending.

Each parser gets what was typed and returns the fields to keep in the draft, or raises
:class:`Invalid` with a message that says what would work.  ``-`` takes the default of
an optional part.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot import callout_texts as texts
from bot import when as clock
from bot.casework import rung_text
from bot.context import Context
from bot.i18n import LANGUAGE_NAMES, _, normalise_language
from bot.policy import organized_case, shown_case_ref
from bot.when import WhenProblem, duration_words, parse_duration
from security.codes import normalise_code
from storage.callouts import Audience, Slot

TEXT_MAX = 300
PEOPLE_MAX = 5000
DEFAULT = frozenset({"-", "default", "defecto", "por defecto", "predeterminado", "ok", "vale"})
NOW = frozenset({"-", "now", "ahora", "ya", "right away", "de inmediato", "inmediatamente"})
ALL = frozenset({"all", "todas", "todos", "toda", "todo", "-", "default"})
ORGANIZERS = frozenset(
    {"organizers", "organizer", "organisers", "organizadores", "organizadoras", "organizador"}
)
FILLER = frozenset({"and", "y", "only", "solo", "sólo", "just", "cells", "células", "celulas"})
WHEN_PROBLEMS = {
    "unclear": _("callout.when_unclear"),
    "no_time": _("callout.when_no_time"),
    "past": _("callout.when_past"),
    "too_far": _("callout.when_too_far"),
}


class Invalid(Exception):
    def __init__(self, message_id: str, /, **values: object) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.values = values


Parser = Callable[[Context, str], Awaitable[dict[str, Any]]]


def _text(raw: str, problem: str) -> str:
    text = raw.strip()
    if not text or len(text) > TEXT_MAX:
        raise Invalid(problem, max=TEXT_MAX)
    return text


def read_time(ctx: Context, raw: str) -> datetime:
    """A moment to come, or :class:`Invalid` with an example."""
    try:
        return clock.parse_when(raw, now=ctx.now, timezone=ctx.settings.timezone)
    except WhenProblem as problem:
        raise Invalid(WHEN_PROBLEMS[problem.reason], text=raw.strip()[:60]) from None


async def parse_what(ctx: Context, raw: str) -> dict[str, Any]:
    return {"what": _text(raw, _("callout.what_invalid"))}


async def parse_when(ctx: Context, raw: str) -> dict[str, Any]:
    return {"starts": read_time(ctx, raw).isoformat()}


async def parse_where(ctx: Context, raw: str) -> dict[str, Any]:
    return {"where": _text(raw, _("callout.where_invalid"))}


async def parse_people(ctx: Context, raw: str) -> dict[str, Any]:
    found = re.search(r"\d+", raw)
    wanted = int(found.group(0)) if found else 0
    if not 1 <= wanted <= PEOPLE_MAX:
        raise Invalid(_("callout.people_invalid"), max=PEOPLE_MAX)
    return {"wanted": wanted}


async def parse_slots(ctx: Context, raw: str) -> dict[str, Any]:
    slots = texts.parse_slots(raw)
    if slots is None:
        raise Invalid(_("callout.slots_invalid"), max=texts.SLOTS_MAX)
    return {"slots": [[s.name, s.need] for s in slots]}


async def parse_audience(ctx: Context, raw: str) -> dict[str, Any]:
    """``all`` (default), list numbers or cell refs, ``organizers``, ``en`` / ``es``."""
    assert ctx.dialog is not None
    cells: list[list[str]] = ctx.dialog.data["cells"]
    chosen: list[str] = []
    filters: list[list[str]] = []
    for token in re.split(r"[\s,;+&]+", raw.strip().casefold()):
        by_ref = [c[0] for c in cells if c[1] == normalise_code(token)]
        if not token or token in FILLER:
            continue
        if token in ALL:
            chosen += [c[0] for c in cells]
        elif token.isdigit() and 1 <= int(token) <= len(cells):
            chosen.append(cells[int(token) - 1][0])
        elif by_ref:
            chosen += by_ref
        elif token in ORGANIZERS:
            filters.append(["role", "organizer"])
        elif not token.isdigit() and (language := normalise_language(token)) is not None:
            filters.append(["language", language])
        else:
            raise Invalid(_("callout.audience_invalid"), token=token[:30])
    chosen = list(dict.fromkeys(chosen or [c[0] for c in cells]))
    unique = [list(f) for f in dict.fromkeys(tuple(f) for f in filters)]
    return {"audience": {"cells": chosen, "network": False, "filters": unique}}


async def parse_case(ctx: Context, raw: str) -> dict[str, Any]:
    if raw.strip().casefold() in texts.NONE_WORDS:
        return {"case": None, "case_ref": None, "rung": ""}
    case = await organized_case(ctx, raw.strip())
    if case is None:
        raise Invalid(_("callout.case_unknown"), ref=shown_case_ref(raw.strip()))
    if case.status == "closed":
        raise Invalid(_("callout.case_closed"), ref=case.ref)
    rung = case.ladder[case.rung - 1] if case.ladder and 0 < case.rung <= len(case.ladder) else ""
    return {"case": case.id, "case_ref": case.ref, "rung": rung}


async def parse_reveal(ctx: Context, raw: str) -> dict[str, Any]:
    if raw.strip().casefold() in DEFAULT:
        return {"reveal_minutes": round(ctx.settings.reveal_hours * 60)}
    span = parse_duration(raw)
    if span is None:
        raise Invalid(_("callout.reveal_invalid"))
    return {"reveal_minutes": int(span.total_seconds() // 60)}


async def parse_send(ctx: Context, raw: str) -> dict[str, Any]:
    if raw.strip().casefold() in NOW:
        return {"send_at": None}
    moment = read_time(ctx, raw)
    assert ctx.dialog is not None
    starts = datetime.fromisoformat(ctx.dialog.data["starts"])
    if moment >= starts:
        raise Invalid(_("callout.send_after_start"), when=ctx.format_time(starts))
    return {"send_at": moment.isoformat()}


PARSERS: dict[str, Parser] = {
    "what": parse_what,
    "when": parse_when,
    "where": parse_where,
    "people": parse_people,
    "slots": parse_slots,
    "audience": parse_audience,
    "case": parse_case,
    "reveal": parse_reveal,
    "send": parse_send,
}
REQUIRED = ("what", "when", "where", "people")
OPTIONAL = ("slots", "audience", "case", "reveal", "send")


def audience_of(data: dict[str, Any]) -> Audience:
    return Audience.from_json(data.get("audience") or {"cells": [c[0] for c in data["cells"]]})


def slots_of(data: dict[str, Any]) -> list[Slot]:
    return [Slot(str(name), int(need)) for name, need in data.get("slots", [])]


async def describe(ctx: Context, data: dict[str, Any]) -> str:
    """Everything as it will be sent, times spelled out in the reader's language."""
    starts = datetime.fromisoformat(data["starts"])
    reveal = timedelta(minutes=int(data["reveal_minutes"]))
    audience = audience_of(data)
    names = {c[0]: f"{c[2]} ({c[1]})" for c in data["cells"]}
    who = [names.get(c, "?") for c in audience.cells]
    for kind, value in audience.filters:
        if kind == "role":
            who.append(ctx.t(_("callout.filter_organizers")))
        elif kind == "language":
            who.append(LANGUAGE_NAMES.get(value, value))
    slots = slots_of(data)
    send_at = data.get("send_at")
    lines = [
        ctx.t(_("callout.summary_head")),
        ctx.t(_("callout.field_what"), value=data["what"]),
        ctx.t(_("callout.field_when"), value=ctx.format_time(starts, texts.LONG)),
        ctx.t(_("callout.field_where"), value=data["where"]),
        ctx.t(_("callout.field_people"), value=data["wanted"]),
        ctx.t(
            _("callout.field_slots"),
            value=texts.slots_text(tuple(slots)) if slots else ctx.t(_("callout.none")),
        ),
        ctx.t(
            _("callout.field_audience"),
            value=" · ".join(who),
            count=await ctx.repos.callouts.audience_size(audience, ctx.now),
        ),
    ]
    if data.get("case_ref"):
        step = rung_text(ctx.language, data["rung"]) if data.get("rung") else "—"
        lines.append(ctx.t(_("callout.field_case"), ref=data["case_ref"], step=step))
    lines += [
        ctx.t(
            _("callout.field_reveal"),
            value=ctx.format_time(starts - reveal),
            before=duration_words(reveal),
        ),
        ctx.t(
            _("callout.field_send"),
            value=ctx.format_time(datetime.fromisoformat(send_at))
            if send_at
            else ctx.t(_("callout.send_now")),
        ),
    ]
    return "\n".join(lines)
