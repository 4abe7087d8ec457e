"""Members, invites, dialogs and the inbound journal.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_bidx", sa.LargeBinary(16), nullable=False),
        sa.Column("handle_bidx", sa.LargeBinary(16), nullable=False),
        sa.Column("account_ct", sa.LargeBinary(), nullable=False),
        sa.Column("handle_ct", sa.LargeBinary(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timer_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.UniqueConstraint("account_bidx", name="uq_members_account_bidx"),
        sa.UniqueConstraint("handle_bidx", name="uq_members_handle_bidx"),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_bidx", sa.LargeBinary(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.UniqueConstraint("code_bidx", name="uq_invites_code_bidx"),
    )
    op.create_table(
        "dialogs",
        sa.Column("account_bidx", sa.LargeBinary(16), nullable=False),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("data_ct", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_bidx", name="pk_dialogs"),
    )
    op.create_table(
        "inbound_journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.LargeBinary(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_journal"),
        sa.UniqueConstraint("dedupe_key", name="uq_inbound_journal_dedupe_key"),
    )


def downgrade() -> None:
    raise NotImplementedError("Lantern migrations are forward-only")
