"""Where a new fight goes: cells open for intake, and the places each cell covers.

A cell that opens for intake chooses a public label ("Eastside tenants") that people
bringing a fight may pick from; its real name stays private.  Places (a building, a
workplace) are stored only as keyed hashes of their normalised words, so a cold copy
cannot be searched for an address, and matching is by whole runs of words: "12 Oak St
apt 4" matches a cell that covers "12 oak street".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from security import Keyring
from storage.common import ad
from storage.keystore import KeyStore
from storage.models import Cell, CellSite

MAX_SITE_WORDS = 8
_SYNONYMS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "avenida": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "calle": "c",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}


def site_words(raw: str) -> list[str]:
    """Lower-case, accent-free words with common street words shortened."""
    decomposed = unicodedata.normalize("NFKD", raw.casefold())
    plain = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return [_SYNONYMS.get(word, word) for word in plain.split()]


@dataclass(frozen=True)
class IntakeCell:
    id: str
    label: str


class RoutingRepository:
    def __init__(self, session: AsyncSession, keys: Keyring, keystore: KeyStore) -> None:
        self._s = session
        self._k = keys
        self._ks = keystore

    def _site_index(self, words: list[str]) -> bytes:
        return self._k.index.digest("site", " ".join(words))

    async def open(self, cell_id: str, label: str) -> None:
        row = await self._s.get(Cell, cell_id)
        if row is None or row.dek_id is None:
            return
        dek = await self._ks.data_key(row.dek_id, "cell", cell_id)
        row.intake_open = True
        row.intake_label_ct = dek.encrypt_text(label, ad=ad("cells", "intake_label", cell_id))
        await self._s.flush()

    async def close(self, cell_id: str) -> None:
        await self._s.execute(
            update(Cell).where(Cell.id == cell_id).values(intake_open=False, intake_label_ct=None)
        )

    def _open(self) -> Select[tuple[Cell]]:
        return (
            select(Cell)
            .where(Cell.intake_open.is_(True), Cell.retired_at.is_(None), Cell.kind == "cell")
            .order_by(Cell.created_at, Cell.id)
        )

    async def open_ids(self, *, limit: int | None = None) -> list[str]:
        """Ids of live cells open for intake, oldest first, without decrypting anything."""
        query = self._open().with_only_columns(Cell.id)
        if limit is not None:
            query = query.limit(limit)
        return [str(found) for found in (await self._s.scalars(query)).all()]

    async def open_cells(self, *, limit: int) -> list[IntakeCell]:
        """Live cells open for intake with their labels, oldest first (a stable menu
        order); at most ``limit``, so a menu never costs more than its length."""
        rows = (await self._s.scalars(self._open().limit(limit))).all()
        cells = []
        for row in rows:
            if row.intake_label_ct is None or row.dek_id is None:
                continue
            dek = await self._ks.data_key(row.dek_id, "cell", row.id)
            label = dek.decrypt_text(row.intake_label_ct, ad=ad("cells", "intake_label", row.id))
            cells.append(IntakeCell(row.id, label))
        return cells

    async def add_site(self, cell_id: str, place: str) -> bool:
        """False if the place has no words or too many."""
        words = site_words(place)
        if not words or len(words) > MAX_SITE_WORDS:
            return False
        key = self._site_index(words)
        if await self._s.get(CellSite, (cell_id, key)) is None:
            self._s.add(CellSite(cell_id=cell_id, site_bidx=key, words=len(words)))
            await self._s.flush()
        return True

    async def remove_site(self, cell_id: str, place: str) -> bool:
        words = site_words(place)
        if not words:
            return False
        result = await self._s.execute(
            delete(CellSite).where(
                CellSite.cell_id == cell_id, CellSite.site_bidx == self._site_index(words)
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def any_open(self) -> bool:
        """Intake starts only if some live cell takes fights.  Places alone are not
        enough: a case always has somewhere to go, so no answer tells whether a place
        is covered."""
        found = await self._s.scalar(
            select(Cell.id)
            .where(Cell.intake_open.is_(True), Cell.retired_at.is_(None), Cell.kind == "cell")
            .limit(1)
        )
        return found is not None

    async def match(self, place: str) -> str | None:
        """The live cell covering the longest run of words in ``place``, if any.

        Work is bounded by the length of the answer (at most 8 hashes per word), never
        by how many places or cells the network has.
        """
        words = site_words(place)[:64]
        keys = {
            self._site_index(words[i : i + n])
            for n in range(1, MAX_SITE_WORDS + 1)
            for i in range(len(words) - n + 1)
        }
        if not keys:
            return None
        found = await self._s.execute(
            select(CellSite.cell_id)
            .join(Cell, Cell.id == CellSite.cell_id)
            .where(CellSite.site_bidx.in_(keys), Cell.retired_at.is_(None))
            .order_by(CellSite.words.desc(), Cell.created_at)
            .limit(1)
        )
        row = found.first()
        return None if row is None else str(row[0])
