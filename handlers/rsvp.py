"""Members answering call-outs: YES / NO / MAYBE <id> [role], TAKE <id> <role>, and
CALLOUTS (mine, and for organizers their cells').

Only people a call-out was sent to may answer it; for anyone else, any id — another
cell's real one or a random one — gets the same reply, which repeats what they typed.
Answers can be changed until the action starts.  Someone saying yes after the reveal
time gets the place in their reply; nobody else ever does.  A 👍 / 👎 reaction on the
call-out message arrives here as ``yes <id>`` / ``no <id>`` (see ``ref_for_reaction``).
"""

from __future__ import annotations

from bot import callout_texts as texts
from bot import covenant, rotation
from bot.callouts import STARTED
from bot.context import Context
from bot.i18n import _
from bot.policy import invited_callout
from bot.router import Audience, Router
from handlers.callout_admin import not_found
from storage.callout_answers import AnswerView
from storage.callouts import OPEN, CalloutView, normalise_callout_ref

REPLIES = {"yes": _("rsvp.yes"), "no": _("rsvp.no"), "maybe": _("rsvp.maybe")}


def _words(ctx: Context) -> list[str]:
    words = ctx.args.split()
    if ctx.command == "tal" and words and words[0].casefold() == "vez":
        words = words[1:]  # "tal vez K7Q2M9"
    return words


async def _answer(ctx: Context, answer: str) -> None:
    assert ctx.member is not None
    words = _words(ctx)
    if words and normalise_callout_ref(words[0]) is not None:
        raw, slot = words[0], " ".join(words[1:])
    elif ctx.command == "tal" and not words:
        raw, slot = "", ""
    else:
        raw, slot = "", " ".join(words)
    if not raw:
        pending = await _awaiting(ctx)
        if len(pending) != 1:
            await _which(ctx, answer)
            return
        raw = pending[0].ref
    found = await invited_callout(ctx, raw, lock=True)
    if found is None:
        not_found(ctx, raw)
        return
    view, mine = found
    if not await _still_open(ctx, view):
        return
    await _record(ctx, view, mine, answer, slot)


async def _awaiting(ctx: Context) -> list[CalloutView]:
    """Open call-outs sent to me that I have not answered."""
    assert ctx.member is not None
    mine = await ctx.repos.callouts.open_for(ctx.member.id)
    ids = [cid for cid, a in mine if a.answer is None]
    return [v for v in await ctx.repos.callouts.views(ids) if v.starts_at > ctx.now]


async def _which(ctx: Context, answer: str) -> None:
    assert ctx.member is not None
    mine = await ctx.repos.callouts.open_for(ctx.member.id)
    views = [
        v for v in await ctx.repos.callouts.views([c for c, _a in mine]) if v.starts_at > ctx.now
    ]
    if not views:
        ctx.reply(_("rsvp.none_open"))
        return
    refs = ", ".join(v.ref for v in views)
    ctx.reply(_("rsvp.which"), word=answer.upper(), refs=refs)


async def _still_open(ctx: Context, view: CalloutView) -> bool:
    if view.status == "cancelled":
        ctx.reply(_("rsvp.cancelled"), ref=view.ref)
        return False
    if view.status not in OPEN or view.starts_at <= ctx.now or view.checks_done & STARTED:
        ctx.reply(_("rsvp.closed"), ref=view.ref)
        return False
    return True


async def _record(
    ctx: Context, view: CalloutView, mine: AnswerView, answer: str, slot_text: str
) -> None:
    assert ctx.member is not None
    slot = mine.slot if answer == "yes" and mine.answer == "yes" else None
    notes: list[str] = []
    if answer == "yes" and slot_text:
        index = texts.find_slot(view.slots, slot_text)
        if index is None:
            notes.append(_unknown_slot(ctx, view, slot_text))
        elif index != slot:
            if await _room(ctx, view, index):
                slot = index
            else:
                notes.append(await _refused(ctx, view, index, _("rsvp.slot_full")))
    await ctx.repos.callouts.set_answer(
        view.id, ctx.member.id, answer=answer, slot=slot, now=ctx.now
    )
    before = mine.slot if mine.answer == "yes" else None
    await rotation.answered(ctx, view, ctx.member.id, answer, slot, before=before)
    if answer == "yes":
        await covenant.gave(ctx)
    when = ctx.format_time(view.starts_at)
    lines = [ctx.t(REPLIES[answer], ref=view.ref, what=view.what, when=when)]
    if answer == "yes":
        if slot is not None:
            lines.append(ctx.t(_("rsvp.slot_yours"), slot=view.slots[slot].name))
        lines += notes
        if slot is None and not notes and (left := await _open_slots(ctx, view)):
            lines.append(ctx.t(_("rsvp.slots_hint"), ref=view.ref, slots=left))
        revealed = ctx.now >= view.reveal_at or view.revealed
        if not revealed:
            lines.append(ctx.t(_("rsvp.place_later"), reveal=ctx.format_time(view.reveal_at)))
    ctx.reply_text("\n".join(lines))
    if answer == "yes" and (ctx.now >= view.reveal_at or view.revealed):
        ctx.reply_sensitive(texts.place_line(ctx.language, view))
        await ctx.repos.callouts.mark_revealed(view.id, [ctx.member.id])


async def _room(ctx: Context, view: CalloutView, index: int) -> bool:
    """A free place, not held for someone whose turn it is (their own offer counts)."""
    assert ctx.member is not None
    if rotation.rotating(ctx, view, index):
        return await rotation.may_take(ctx, view, index, ctx.member.id)
    taken = await ctx.repos.callouts.slots_taken(view.id)
    return taken.get(index, 0) < view.slots[index].need


async def _refused(ctx: Context, view: CalloutView, index: int, message_id: str) -> str:
    """Why not: held in rotation (until when), or simply full."""
    if rotation.rotating(ctx, view, index):
        taken = await ctx.repos.callouts.slots_taken(view.id)
        if taken.get(index, 0) < view.slots[index].need:
            held = await rotation.held_note(ctx, view, index)
            if held is not None:
                return held
    return _full(ctx, view, index, message_id)


async def _open_slots(ctx: Context, view: CalloutView) -> str:
    if not view.slots:
        return ""
    taken = await ctx.repos.callouts.slots_taken(view.id)
    return " · ".join(
        f"{i}. {s.name}" for i, s in enumerate(view.slots, start=1) if taken.get(i - 1, 0) < s.need
    )


def _unknown_slot(ctx: Context, view: CalloutView, text: str) -> str:
    if not view.slots:
        return ctx.t(_("rsvp.no_slots"), ref=view.ref)
    return ctx.t(
        _("rsvp.slot_unknown"), ref=view.ref, text=text[:40], slots=texts.slots_text(view.slots)
    )


def _full(ctx: Context, view: CalloutView, index: int, message_id: str) -> str:
    slot = view.slots[index]
    return ctx.t(message_id, slot=slot.name, need=slot.need, ref=view.ref)


async def cmd_yes(ctx: Context) -> None:
    await _answer(ctx, "yes")


async def cmd_no(ctx: Context) -> None:
    await _answer(ctx, "no")


async def cmd_maybe(ctx: Context) -> None:
    await _answer(ctx, "maybe")


async def cmd_take(ctx: Context) -> None:
    assert ctx.member is not None
    raw, _sep, slot_text = ctx.args.strip().partition(" ")
    found = await invited_callout(ctx, raw, lock=True) if raw else None
    if found is None:
        if raw:
            not_found(ctx, raw)
        else:
            ctx.reply(_("rsvp.take_usage"))
        return
    view, mine = found
    if not await _still_open(ctx, view):
        return
    if mine.answer != "yes":
        ctx.reply(_("rsvp.take_needs_yes"), ref=view.ref)
        return
    index = texts.find_slot(view.slots, slot_text.strip()) if slot_text.strip() else None
    if index is None:
        ctx.reply_text(_unknown_slot(ctx, view, slot_text.strip() or "?"))
        return
    if index != mine.slot and not await _room(ctx, view, index):
        ctx.reply_text(await _refused(ctx, view, index, _("rsvp.slot_full_take")))
        return
    await ctx.repos.callouts.set_answer(
        view.id, ctx.member.id, answer="yes", slot=index, now=ctx.now
    )
    await rotation.answered(ctx, view, ctx.member.id, "yes", index, before=mine.slot)
    ctx.reply(_("rsvp.took"), ref=view.ref, slot=view.slots[index].name)


async def cmd_callouts(ctx: Context) -> None:
    assert ctx.member is not None
    mine = dict(await ctx.repos.callouts.open_for(ctx.member.id))
    lines: list[str] = []
    for view in await ctx.repos.callouts.views(list(mine)):
        answer = mine[view.id]
        slot = f" ({view.slots[answer.slot].name})" if answer.slot is not None else ""
        lines.append(
            ctx.t(
                _("callouts.mine_line"),
                ref=view.ref,
                when=ctx.format_time(view.starts_at),
                what=view.what,
                answer=texts.answer_word(ctx.language, answer.answer) + slot,
            )
        )
    if lines:
        lines.insert(0, ctx.t(_("callouts.mine_header")))
    if ctx.is_organizer and not ctx.member.quarantined:
        lines += await _organized(ctx)
    ctx.reply_text("\n".join(lines) if lines else ctx.t(_("callouts.none")))


async def _organized(ctx: Context) -> list[str]:
    assert ctx.member is not None
    cells = [
        c.id for c, role in await ctx.repos.cells.cells_of(ctx.member.id) if role == "organizer"
    ]
    views = await ctx.repos.callouts.of_cells(cells)
    if not views:
        return []
    counts = await ctx.repos.callouts.tally([v.id for v in views])
    lines = [ctx.t(_("callouts.org_header"))]
    for view in views:
        n = counts[view.id]
        lines.append(
            ctx.t(
                _("callouts.org_line"),
                ref=view.ref,
                when=ctx.format_time(view.starts_at),
                what=view.what,
                status=texts.status_word(ctx.language, view.status),
                yes=n["yes"],
                wanted=view.wanted,
                maybe=n["maybe"],
                no=n["no"],
            )
        )
    return lines


def register(router: Router) -> None:
    command = router.command
    command("yes", "si", "sí", audience=Audience.MEMBER, summary=_("help.rsvp"))(cmd_yes)
    command("no", audience=Audience.MEMBER, summary="", hidden=True)(cmd_no)
    command(
        "maybe",
        "quizás",
        "quizas",
        "quizá",
        "quiza",
        "talvez",
        "tal",
        audience=Audience.MEMBER,
        summary="",
        hidden=True,
    )(cmd_maybe)
    command("take", "tomar", "tomo", audience=Audience.MEMBER, summary=_("help.take"))(cmd_take)
    command("callouts", "convocatorias", audience=Audience.MEMBER, summary=_("help.callouts"))(
        cmd_callouts
    )
