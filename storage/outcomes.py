"""What survives a shredded case: per cell and month, how many fights ended which way
and what was won in money.  No ids, no people, no text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Outcome


class OutcomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record_outcome(
        self, cell_id: str, outcome: str, *, amount: int, now: datetime
    ) -> None:
        month = now.strftime("%Y-%m")
        row = await self._s.get(Outcome, (cell_id, month, outcome))
        if row is None:
            self._s.add(
                Outcome(cell_id=cell_id, month=month, outcome=outcome, count=1, amount=amount)
            )
        else:
            row.count += 1
            row.amount += amount
        await self._s.flush()

    async def outcome_totals(self, cell_ids: list[str] | None = None) -> dict[str, tuple[int, int]]:
        """outcome -> (count, amount), over the given cells or the whole network."""
        query = select(Outcome.outcome, func.sum(Outcome.count), func.sum(Outcome.amount))
        if cell_ids is not None:
            query = query.where(Outcome.cell_id.in_(cell_ids))
        rows = (await self._s.execute(query.group_by(Outcome.outcome))).all()
        return {str(o): (int(c or 0), int(a or 0)) for o, c, a in rows}
