"""What a member can give and when: SKILLS, and "protect the psyche": PAUSE / RESUME.

SKILLS with words *replaces* the list (skills and times together), so what the bot
holds is always exactly the last thing the person sent.  If any word is not understood,
nothing is saved: the reply names the words it did not understand and shows an example,
and the person resends the whole line (their old list stays as it was, nothing is lost).
A role typed as a skill ("childcare") gets a pointer to SIGNUP.

A pause keeps the person out of call-outs and role offers until it ends; call-outs they
already said yes to still stand (they can answer NO).  The sweep in
:mod:`bot.pause_timers` welcomes them back when it ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from bot.context import Context
from bot.i18n import _
from bot.roles import AVAILABILITY_NAMES, AVAILABILITY_WORDS, catalogue_of, fold
from bot.router import Audience, Router

NONE_WORDS = frozenset({"none", "nothing", "ninguna", "ninguno", "nada", "-"})
FILLER = frozenset({"and", "y", "e", "also", "tambien"})
PHRASE_MAX = 4  # words in the longest skill or time ("fines de semana")
_DURATION = re.compile(r"^(\d{1,3}|[a-z]+)\s*([a-z]+)$")
_NUMBERS = {
    **dict.fromkeys(("a", "an", "one", "un", "una", "uno"), 1),
    **dict.fromkeys(("two", "dos", "couple"), 2),
    **dict.fromkeys(("three", "tres"), 3),
    **dict.fromkeys(("four", "cuatro"), 4),
    **dict.fromkeys(("five", "cinco"), 5),
    **dict.fromkeys(("six", "seis"), 6),
    **dict.fromkeys(("seven", "siete"), 7),
    **dict.fromkeys(("eight", "ocho"), 8),
    **dict.fromkeys(("nine", "nueve"), 9),
    **dict.fromkeys(("ten", "diez"), 10),
}
_NOISE = re.compile(r"[^\w\s]|\b(?:for|por|durante|of|de)\b")  # "for 2 weeks.", "un par de"
_UNITS = {
    **dict.fromkeys(("d", "day", "days", "dia", "dias"), 1),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks", "semana", "semanas"), 7),
    **dict.fromkeys(("m", "month", "months", "mes", "meses"), 30),
}


def parse_duration(text: str) -> int | None:
    """``2 weeks``, ``10 días``, ``un mes``, ``dos semanas``, ``3w``, ``a week.`` -> days;
    None if unreadable (the reply then shows examples: nothing is guessed)."""
    folded = fold(text).replace("un par", "couple").replace("a couple", "couple")
    cleaned = " ".join(_NOISE.sub(" ", folded).split())
    found = _DURATION.match(cleaned)
    if found is None or found.group(2) not in _UNITS:
        return None
    number = found.group(1)
    count = int(number) if number.isdigit() else _NUMBERS.get(number)
    return None if count is None else count * _UNITS[found.group(2)] or None


def read_skills(
    words: list[str], find: Callable[[str], str | None]
) -> tuple[set[str], int, list[str]]:
    """Skills, an availability mask and the words not understood (longest phrases
    first, so "fines de semana" is one time and not three unknown words)."""
    skills, mask, unknown = set[str](), 0, []
    i = 0
    while i < len(words):
        for end in range(min(len(words), i + PHRASE_MAX), i, -1):
            phrase = " ".join(words[i:end])
            folded = fold(phrase)
            times = {fold(k): v for k, v in AVAILABILITY_WORDS.items()}
            if folded in times:
                mask |= times[folded]
                break
            skill = find(phrase)
            if skill is not None:
                skills.add(skill)
                break
        else:
            if fold(words[i]) not in FILLER:
                unknown.append(words[i])
            end = i + 1
        i = end
    return skills, mask, unknown


async def _show(ctx: Context) -> None:
    assert ctx.member is not None
    repo, language = ctx.repos.roles, ctx.language
    catalogue = await catalogue_of(ctx.settings.roles_file, repo)
    names = sorted(
        (catalogue.skill_name(s, language) for s in await repo.skills(ctx.member.id)),
        key=str.casefold,
    )
    mask = await repo.availability(ctx.member.id) or 0
    times = [ctx.t(name) for bit, name in AVAILABILITY_NAMES.items() if mask & bit]
    ctx.reply(
        _("skills.show"),
        skills=", ".join(names) or ctx.t(_("skills.nothing")),
        times=", ".join(times) or ctx.t(_("skills.any_time")),
        examples=", ".join(s.name(language) for s in catalogue.skills.values()),
    )


async def cmd_skills(ctx: Context) -> None:
    assert ctx.member is not None
    if not ctx.args:
        await _show(ctx)
        return
    repo = ctx.repos.roles
    words = [w for w in re.split(r"[,;\s]+", ctx.args) if w]
    if len(words) == 1 and fold(words[0]) in NONE_WORDS:
        await repo.set_skills(ctx.member.id, [])
        await repo.set_availability(ctx.member.id, None)
        ctx.reply(_("skills.cleared"))
        return
    catalogue = await catalogue_of(ctx.settings.roles_file, repo)
    skills, mask, unknown = read_skills(words, catalogue.find_skill)
    if unknown:
        # the line as typed, not the words picked out of it: a reply built only from
        # what was sent (the cross-cell threat tests compare replies with it masked)
        lines = [ctx.t(_("skills.unknown"), words=ctx.args[:120])]
        role = next(filter(None, map(catalogue.find_role, [" ".join(unknown), *unknown])), None)
        if role is not None:  # "childcare" is something to sign up for, not a skill
            lines.append(ctx.t(_("skills.is_role"), role=role.name(ctx.language)))
        ctx.reply_text("\n".join(lines))
        return
    await repo.set_skills(ctx.member.id, skills)
    await repo.set_availability(ctx.member.id, mask or None)
    await _show(ctx)


async def cmd_pause(ctx: Context) -> None:
    assert ctx.member is not None
    days = parse_duration(ctx.args) if ctx.args else None
    limit = ctx.settings.pause_max_days
    if days is None or days > limit:
        ctx.reply(_("pause.usage"), max=limit)
        return
    until = ctx.now + timedelta(days=days)
    await ctx.repos.roles.pause(ctx.member.id, until)
    ctx.reply(_("pause.done"), until=ctx.format_time(until))


async def cmd_resume(ctx: Context) -> None:
    assert ctx.member is not None
    until = await ctx.repos.roles.paused_until(ctx.member.id)
    if until is None or until <= ctx.now:
        ctx.reply(_("pause.not_paused"))
        return
    await ctx.repos.roles.pause(ctx.member.id, None)
    ctx.reply(_("pause.resumed"))


def register(router: Router) -> None:
    command = router.command
    command("skills", "habilidades", audience=Audience.MEMBER, summary=_("help.skills"))(cmd_skills)
    command("pause", "pausa", "pausar", audience=Audience.MEMBER, summary=_("help.pause"))(
        cmd_pause
    )
    command("resume", "volver", "reanudar", audience=Audience.MEMBER, summary=_("help.resume"))(
        cmd_resume
    )
