"""``lantern init``: create the network and its coordinator enrollment codes.

In the normal (shares) mode nothing secret exists yet: the bot generates the unseal and
root keys in memory when it starts, and splits the unseal key among the coordinators once
all have enrolled.  In single-operator passphrase mode the root key is created here and
wrapped under Argon2id(passphrase); the bot then starts sealed and is unsealed with
``unseal <passphrase>``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

from security import Keyring
from security.codes import new_code
from security.keyring import new_key
from security.unseal import ArgonParams, passphrase_key, wrap_root
from storage.db import Database
from storage.models import Network, utcnow
from storage.network import NetworkRepository
from storage.repositories import Repositories

ENROLL_VALID = timedelta(days=7)


class AlreadyInitialisedError(RuntimeError):
    """This database already holds a network; init never overwrites one."""


async def init_network(
    db: Database,
    *,
    name: str,
    coordinators: int,
    threshold: int,
    passphrase: str | None = None,
    valid: timedelta = ENROLL_VALID,
    argon: ArgonParams | None = None,
) -> list[str]:
    """Create the network; returns one enrollment code per coordinator."""
    if not 1 <= threshold <= coordinators <= 16:
        raise ValueError("need 1 <= threshold <= coordinators <= 16")
    if passphrase is None and (coordinators < 2 or threshold < 2):
        # SLIP-39 has no 1-of-n split, and 1-of-n would let any one coordinator unseal
        raise ValueError("shares mode needs a threshold of at least 2 (or use a passphrase)")
    network_id = secrets.token_hex(16)
    codes = [new_code() for _ in range(coordinators)]
    async with db.transaction() as session:
        repo = NetworkRepository(session)
        if await repo.get() is not None:
            raise AlreadyInitialisedError("this database already holds a network")
        row = Network(
            id=network_id,
            state="enrolling",
            mode="shares" if passphrase is None else "passphrase",
            threshold=threshold if passphrase is None else 1,
            share_count=coordinators,
            epoch=0,
            name_pending=name,
        )
        keys = None
        if passphrase is not None:
            params = argon or ArgonParams()
            salt = os.urandom(16)
            root = new_key()
            keys = Keyring(root)
            row.argon_salt, row.argon_time, row.argon_memory_kib = (
                salt,
                params.time_cost,
                params.memory_kib,
            )
            row.epoch = 1
            row.root_wrapped = wrap_root(
                passphrase_key(passphrase, salt, params), root, network_id=network_id, epoch=1
            )
            row.backlog_public = keys.backlog_public
        await repo.create(row)
        if keys is not None:
            await repo.seal_name(network_id, keys)
            await Repositories(session, keys).cells.create("council", kind="council")
            keys.forget()
        for code in codes:
            await repo.add_enrollment(network_id, code, expires_at=utcnow() + valid)
    return codes
