"""Repositories: the only code that encrypts, decrypts or looks up personal fields.

Handlers receive plain domain objects (:class:`MemberView`, :class:`CellView`,
:class:`DialogState`) and never see ciphertext, keys, blind indexes or SQLAlchemy.
Repositories never commit: the dispatcher owns the one transaction per inbound message.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from security import BacklogSealer, Keyring
from storage.ballots import BallotRepository
from storage.callouts import CalloutRepository
from storage.cases import CaseEventView, CaseRepository, CaseView
from storage.cells import CellRepository, CellView, InviteRepository, InviteView
from storage.covenants import CovenantRepository
from storage.debriefs import DebriefRepository
from storage.journal import DialogRepository, DialogState, JournalEntry, JournalRepository
from storage.keystore import KeyStore
from storage.load import LoadRepository
from storage.members import MemberRepository, MemberView
from storage.network import NetworkRepository
from storage.outbox import OutboxRepository
from storage.outcomes import OutcomeRepository
from storage.prompts import PromptRepository
from storage.roles import RoleRepository
from storage.rotation import RotationRepository
from storage.routing import IntakeCell, RoutingRepository

__all__ = [
    "CaseEventView",
    "CaseView",
    "CellView",
    "DialogState",
    "IntakeCell",
    "InviteView",
    "JournalEntry",
    "MemberView",
    "Repositories",
]


class Repositories:
    """Everything a handler may touch, bound to the current transaction and keyring."""

    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self.keys = KeyStore(session, keys)
        self.members = MemberRepository(session, keys, self.keys)
        self.cells = CellRepository(session, keys, self.keys)
        self.invites = InviteRepository(session, keys)
        self.dialogs = DialogRepository(session, keys, self.keys)
        self.journal = JournalRepository(session, BacklogSealer(keys.backlog_public), keys)
        self.network = NetworkRepository(session)
        self.cases = CaseRepository(session, keys, self.keys)
        self.ballots = BallotRepository(session, keys, self.keys)
        self.outcomes = OutcomeRepository(session)
        self.routing = RoutingRepository(session, keys, self.keys)
        self.outbox = OutboxRepository(session, keys)
        self.callouts = CalloutRepository(session, keys, self.keys)
        self.prompts = PromptRepository(session, keys, self.keys)
        self.debriefs = DebriefRepository(session, keys, self.keys)
        self.roles = RoleRepository(session, keys)
        self.rotation = RotationRepository(session, keys, self.keys)
        self.covenants = CovenantRepository(session, keys, self.keys)
        self.load = LoadRepository(session, keys, self.keys)
