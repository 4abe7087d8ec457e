"""Upcoming deadlines, from plain columns only (no key needed, works while sealed).

Used to rebuild the scheduler's wake-ups on start (:mod:`bot.jobs`).  A wake-up only
makes the timers look sooner; the sweeps decide what is really due, so a time listed
here that turns out to need nothing costs one empty tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, load_only

from storage.common import aware
from storage.models import Callout, Case, DeliveryState, Dialog, OutboxMessage, Prompt

OPEN_CALLOUT = ("scheduled", "sending", "sent")


class DeadlineSettings(Protocol):
    callout_reminders_hours: list[float]
    callout_nudge_hours: float
    underfill_hours: float
    debrief_hours: float


def _callout_times(row: Callout, settings: DeadlineSettings) -> list[datetime]:
    starts = aware(row.starts_at)
    times: list[datetime] = []
    if row.status in OPEN_CALLOUT:
        if row.status == "scheduled":
            times.append(aware(row.send_at))
        if not row.revealed:
            times.append(aware(row.reveal_at))
        times += [starts - timedelta(hours=h) for h in settings.callout_reminders_hours]
        if not row.nudged and settings.callout_nudge_hours:
            times.append(starts - timedelta(hours=settings.callout_nudge_hours))
        if settings.underfill_hours:
            times.append(starts - timedelta(hours=settings.underfill_hours))
        times.append(starts)
    if not row.debriefed:
        times.append(starts + timedelta(hours=settings.debrief_hours))
    return times


async def upcoming(
    session: AsyncSession, settings: DeadlineSettings, *, now: datetime, limit: int
) -> list[datetime]:
    """The next ``limit`` distinct moments (to the second) something may fall due."""
    horizon = now - timedelta(hours=settings.debrief_hours)
    callouts = await session.scalars(
        select(Callout)
        .options(
            load_only(
                Callout.status,
                Callout.send_at,
                Callout.starts_at,
                Callout.reveal_at,
                Callout.revealed,
                Callout.nudged,
                Callout.debriefed,
            )
        )
        .where(
            Callout.status.in_((*OPEN_CALLOUT, "done")),
            ~Callout.debriefed,
            Callout.starts_at > horizon,
        )
        .order_by(Callout.starts_at)
        .limit(limit)
    )
    found: list[datetime] = []
    for row in callouts.all():
        found += _callout_times(row, settings)
    found += await _column(
        session, Case.vote_deadline, Case.status == "voting", now=now, limit=limit
    )
    for column in (Prompt.step_deadline, Prompt.deadline):
        found += await _column(session, column, Prompt.status == "open", now=now, limit=limit)
    found += await _column(session, Dialog.remind_at, now=now, limit=limit)
    retry = await session.scalar(
        select(func.min(OutboxMessage.not_before)).where(
            OutboxMessage.state == "queued", OutboxMessage.not_before > now
        )
    )
    pause = await session.scalar(
        select(DeliveryState.paused_until).where(DeliveryState.paused_until > now)
    )
    found += [aware(t) for t in (retry, pause) if t is not None]
    seconds = sorted({int(aware(t).timestamp()) for t in found if aware(t) > now})
    return [datetime.fromtimestamp(s, tz=UTC) for s in seconds[:limit]]


async def _column(
    session: AsyncSession,
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    *conditions: ColumnElement[bool],
    now: datetime,
    limit: int,
) -> list[datetime]:
    rows = await session.scalars(
        select(column).where(*conditions, column > now).order_by(column).limit(limit)
    )
    return [aware(t) for t in rows.all() if t is not None]
