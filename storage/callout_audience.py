"""Who a call-out asks: chosen cells (or the whole network) narrowed by filters.

The audience is kept in the call-out's encrypted body; here it becomes one query over
memberships, in member id order so the fan-out can resume after ``expand_cursor``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Cell, Member, MemberRole, Membership, MemberSkill
from storage.roles import not_paused

# Audience filters: each narrows who of the chosen cells is asked.
Filter = Callable[[str], ColumnElement[bool]]
FILTERS: dict[str, Filter] = {
    "role": lambda value: Membership.role == value,  # organizer | member, in the cell
    "language": lambda value: Member.language == value,
    "skill": lambda value: Member.id.in_(
        select(MemberSkill.member_id).where(MemberSkill.skill == value)
    ),
    "holds": lambda value: Member.id.in_(
        select(MemberRole.member_id).where(MemberRole.role_key == value)
    ),
}


@dataclass(frozen=True)
class Audience:
    cells: tuple[str, ...] = ()  # cell ids
    network: bool = False  # every live cell (a coordinators' "widen the call")
    filters: tuple[tuple[str, str], ...] = ()  # ("role", "organizer"), ("language", "es")

    def to_json(self) -> dict[str, Any]:
        return {
            "cells": list(self.cells),
            "network": self.network,
            "filters": [list(f) for f in self.filters],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(
            cells=tuple(data.get("cells", [])),
            network=bool(data.get("network", False)),
            filters=tuple((str(k), str(v)) for k, v in data.get("filters", [])),
        )


class AudienceQueries:
    """Mixed into the call-out repository (which sets ``_s``)."""

    _s: AsyncSession

    @staticmethod
    def _audience(audience: Audience, now: datetime) -> Select[tuple[str]]:
        """Who the call-out asks at ``now``: members paused then are left out (required,
        so that no caller can forget a pause)."""
        query = (
            select(Membership.member_id)
            .join(Member, Member.id == Membership.member_id)
            .join(Cell, Cell.id == Membership.cell_id)
            .where(Cell.kind == "cell", Cell.retired_at.is_(None))
        )
        if not audience.network:
            query = query.where(Membership.cell_id.in_(audience.cells))
        for kind, value in audience.filters:
            query = query.where(FILTERS[kind](value))
        return query.where(not_paused(now))

    async def audience_page(
        self, audience: Audience, *, after: str | None, limit: int, now: datetime
    ) -> list[str]:
        """The next ``limit`` member ids of the audience after ``after``, in id order
        (without those paused at ``now``)."""
        query = self._audience(audience, now)
        if after is not None:
            query = query.where(Membership.member_id > after)
        rows = await self._s.scalars(query.distinct().order_by(Membership.member_id).limit(limit))
        return list(rows.all())

    async def in_audience(
        self, audience: Audience, member_ids: list[str], *, now: datetime
    ) -> set[str]:
        """Which of these people the call-out asks (and are not paused)."""
        if not member_ids:
            return set()
        query = self._audience(audience, now).where(Membership.member_id.in_(member_ids))
        return set((await self._s.scalars(query.distinct())).all())

    async def audience_size(self, audience: Audience, now: datetime) -> int:
        inner = self._audience(audience, now).distinct().subquery()
        found = await self._s.scalar(select(func.count()).select_from(inner))
        return int(found or 0)
