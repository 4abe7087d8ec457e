"""Members written in batches, byte for byte as ``MemberRepository.create`` writes them.

Creating 100,000 members one ``create`` at a time costs four round trips each (data key,
member, membership, their flushes): minutes on PostgreSQL, most of a 15-minute budget.
Here the same rows — a data key per member wrapped by the home cell's KEK with the same
associated data, the same blind indexes and field ciphertexts — go in with one
multi-row INSERT per table and batch.  :func:`check_readable` then reads a sample back
through the real repository, so if this ever drifts from what the repository writes the
benchmark stops instead of measuring a network the bot cannot read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from security import FieldCipher, Keyring
from security.keyring import new_key
from storage.common import ad
from storage.keystore import KeyStore, _dek_ad
from storage.members import PURPOSE, MemberRepository
from storage.models import DataKey, Member, Membership, utcnow
from storage.repositories import Repositories


@dataclass(frozen=True)
class NewMember:
    account: str
    handle: str
    language: str
    home: str  # cell id
    role_in_home: str = "member"  # or "organizer"
    also: str | None = None  # a second cell, as a plain member


async def insert_members(
    session: AsyncSession, keys: Keyring, people: list[NewMember], timer: int
) -> list[str]:
    """Insert one batch; the new member ids, in order."""
    store = KeyStore(session, keys)
    repo = MemberRepository(session, keys, store)
    keks: dict[str, tuple[int, FieldCipher]] = {}
    for cell in {p.home for p in people}:
        version = await store.current_version(cell) or await store.new_cell_key(cell)
        keks[cell] = (version, await store.kek(cell, version))
    now = utcnow()
    data_keys, members, memberships, ids = [], [], [], []
    for person in people:
        member_id, dek_id, dek = secrets.token_hex(16), secrets.token_hex(16), new_key()
        version, kek = keks[person.home]
        data_keys.append(
            {
                "id": dek_id,
                "cell_id": person.home,
                "kek_version": version,
                "purpose": PURPOSE,
                "record_id": member_id,
                "wrapped": kek.encrypt(dek, ad=_dek_ad(PURPOSE, person.home, member_id, version)),
            }
        )
        cipher = FieldCipher(dek)
        members.append(
            {
                "id": member_id,
                "account_bidx": repo.account_index(person.account),
                "handle_bidx": repo._handle_index(person.handle),
                "home_cell_id": person.home,
                "dek_id": dek_id,
                "account_ct": cipher.encrypt_text(
                    person.account, ad=ad("members", "account", member_id)
                ),
                "handle_ct": cipher.encrypt_text(
                    person.handle, ad=ad("members", "handle", member_id)
                ),
                "identity_ct": None,
                "language": person.language,
                "role": "member",
                "timer_seconds": timer,
                "joined_at": now,
            }
        )
        cells = [(person.home, person.role_in_home)]
        if person.also is not None and person.also != person.home:
            cells.append((person.also, "member"))
        memberships += [
            {"member_id": member_id, "cell_id": c, "role": r, "joined_at": now} for c, r in cells
        ]
        ids.append(member_id)
    for table, rows in ((DataKey, data_keys), (Member, members), (Membership, memberships)):
        await session.execute(insert(table), rows)
    return ids


async def check_readable(session: AsyncSession, keys: Keyring, sample: list[NewMember]) -> None:
    """The bot must find and decrypt what was written, or the numbers mean nothing."""
    repos = Repositories(session, keys)
    for person in sample:
        found = await repos.members.by_account(person.account)
        if found is None or found.handle != person.handle:
            raise RuntimeError("bulk-written members are not readable by the repository")
