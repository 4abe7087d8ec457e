"""Coordinators change the role catalogue: ADDROLE (a dialog), RETIREROLE, RESTOREROLE.

A new role needs a name and a one-line description in every language the bot speaks,
because every member reads the list in their own; the dialog asks for each in turn, then
shows the whole role and waits for YES.  A name that already means a role (in any
language, retired ones included) is refused: signing up by that word must stay
unambiguous.  Retiring keeps people's holdings (a role can come back with RESTOREROLE)
but the role is no longer listed, offered or taken.

```mermaid
stateDiagram-v2
    [*] --> name_en: ADDROLE
    name_en --> desc_en
    desc_en --> name_es
    name_es --> desc_es
    desc_es --> confirm
    confirm --> [*]: YES (added) / NO (dropped)
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import SUPPORTED_LANGUAGES
from bot.context import Context
from bot.i18n import LANGUAGE_NAMES, _, parse_yes_no
from bot.roles import Catalogue, catalogue_of
from bot.router import Audience, Router

FLOW = "addrole"
NAME_MAX, DESCRIPTION_MAX = 40, 160
Step = Callable[[Context], Awaitable[None]]


async def _catalogue(ctx: Context) -> Catalogue:
    return await catalogue_of(ctx.settings.roles_file, ctx.repos.roles)


async def cmd_addrole(ctx: Context) -> None:
    await ctx.router.start(ctx, FLOW, {})


def _asker(kind: str, language: str) -> Step:
    async def ask(ctx: Context) -> None:
        message = _("roleadmin.ask_name") if kind == "name" else _("roleadmin.ask_description")
        ctx.reply(message, language=LANGUAGE_NAMES[language])

    return ask


def _answerer(kind: str, language: str) -> Step:
    async def answer(ctx: Context) -> None:
        text = " ".join(ctx.text.split())
        limit = NAME_MAX if kind == "name" else DESCRIPTION_MAX
        if not 2 <= len(text) <= limit:
            ctx.reply(_("roleadmin.length"), max=limit)
            await ctx.router.reprompt(ctx)
            return
        if kind == "name":
            clash = (await _catalogue(ctx)).find_role(text, include_retired=True)
            if clash is not None:
                ctx.reply(_("roleadmin.clash"), name=text, role=clash.name(ctx.language))
                await ctx.router.reprompt(ctx)
                return
        await ctx.update_dialog(**{f"{kind}_{language}": text})
        await ctx.router.advance(ctx)

    return answer


async def ask_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None
    data: dict[str, Any] = ctx.dialog.data
    lines = [
        f"{LANGUAGE_NAMES[lang]}: {data.get(f'name_{lang}', '?')} — "
        f"{data.get(f'description_{lang}', '?')}"
        for lang in SUPPORTED_LANGUAGES
    ]
    ctx.reply(_("roleadmin.confirm"), role="\n".join(lines))


async def answer_confirm(ctx: Context) -> None:
    assert ctx.dialog is not None
    choice = parse_yes_no(ctx.text)
    if choice is None:
        await ctx.router.reprompt(ctx)
        return
    data = ctx.dialog.data
    await ctx.end_dialog()
    if not choice:
        ctx.reply(_("roleadmin.dropped"))
        return
    names = {lang: str(data[f"name_{lang}"]) for lang in SUPPORTED_LANGUAGES}
    catalogue = await _catalogue(ctx)
    for name in names.values():  # another coordinator may have added it meanwhile
        clash = catalogue.find_role(name, include_retired=True)
        if clash is not None:
            ctx.reply(_("roleadmin.clash_late"), name=name, role=clash.name(ctx.language))
            return
    descriptions = {lang: str(data[f"description_{lang}"]) for lang in SUPPORTED_LANGUAGES}
    await ctx.repos.roles.add_role(names, descriptions, now=ctx.now)
    ctx.reply(_("roleadmin.added"), role=names[ctx.language])


async def cmd_retirerole(ctx: Context) -> None:
    catalogue = await _catalogue(ctx)
    role = catalogue.find_role(ctx.args) if ctx.args else None
    if role is None:
        names = ", ".join(r.name(ctx.language) for r in catalogue.active())
        ctx.reply(_("roleadmin.which"), word=ctx.command.upper(), roles=names)
        return
    await ctx.repos.roles.retire(role.key, now=ctx.now)
    ctx.reply(_("roleadmin.retired"), role=role.name(ctx.language))


async def cmd_restorerole(ctx: Context) -> None:
    catalogue = await _catalogue(ctx)
    role = catalogue.find_role(ctx.args, include_retired=True) if ctx.args else None
    if role is None or not role.retired:
        retired = [r.name(ctx.language) for r in catalogue.roles.values() if r.retired]
        ctx.reply(_("roleadmin.which"), word=ctx.command.upper(), roles=", ".join(retired) or "—")
        return
    await ctx.repos.roles.restore(role.key, now=ctx.now)
    ctx.reply(_("roleadmin.restored"), role=role.name(ctx.language))


COMMANDS = (
    (("addrole", "nuevafuncion", "nuevafunción"), _("help.addrole"), cmd_addrole),
    (("retirerole", "retirarfuncion", "retirarfunción"), _("help.retirerole"), cmd_retirerole),
    (
        ("restorerole", "recuperarfuncion", "recuperarfunción"),
        _("help.restorerole"),
        cmd_restorerole,
    ),
)


def register(router: Router) -> None:
    for words, summary, handler in COMMANDS:
        router.command(*words, audience=Audience.COORDINATOR, summary=summary)(handler)
    for language in SUPPORTED_LANGUAGES:
        for kind in ("name", "description"):
            router.step(FLOW, f"{kind}_{language}", prompt=_asker(kind, language))(
                _answerer(kind, language)
            )
    router.step(FLOW, "confirm", prompt=ask_confirm)(answer_confirm)
