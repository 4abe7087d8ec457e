"""Network, cells, versioned cell keys, per-record data keys, memberships, sealed journal.

Rows written under 0001 were encrypted with the interim key file, which this design
replaces with a k-of-n sealed root key; they cannot be carried over (nobody should hold
the old key once the network is sealed), so they are deleted.  No network was running
0001 outside development.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("dialogs", "invites", "members", "inbound_journal"):
        op.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed table names)
    op.create_table(
        "bans",
        sa.Column("account_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_bidx", name=op.f("pk_bans")),
    )
    op.create_table(
        "cells",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dek_id", sa.String(length=32), nullable=True),
        sa.Column("name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cells")),
        sa.UniqueConstraint("ref", name=op.f("uq_cells_ref")),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrollments_code_hash")),
    )
    op.create_table(
        "network",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("share_count", sa.Integer(), nullable=False),
        sa.Column("share_identifier", sa.Integer(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("root_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("backlog_public", sa.LargeBinary(length=32), nullable=True),
        sa.Column("name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("name_pending", sa.String(length=200), nullable=True),
        sa.Column("argon_salt", sa.LargeBinary(length=16), nullable=True),
        sa.Column("argon_time", sa.Integer(), nullable=True),
        sa.Column("argon_memory_kib", sa.Integer(), nullable=True),
        sa.Column("rotation_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network")),
    )
    op.create_table(
        "cell_keys",
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_cell_keys_cell_id_cells")),
        sa.PrimaryKeyConstraint("cell_id", "version", name=op.f("pk_cell_keys")),
    )
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_data_keys_cell_id_cells")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
    )
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.create_index("ix_data_keys_cell_version", ["cell_id", "kek_version"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cells.id"], name=op.f("fk_memberships_cell_id_cells")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_memberships_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "cell_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index("ix_memberships_cell", ["cell_id"], unique=False)

    with op.batch_alter_table("dialogs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dek_id", sa.String(length=32), nullable=False))

    with op.batch_alter_table("inbound_journal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_ct", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("dedupe_key", existing_type=sa.LargeBinary(16), nullable=True)
        batch_op.drop_column("body_ct")

    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cell_id", sa.String(length=32), nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_invites_cell_id_cells"), "cells", ["cell_id"], ["id"]
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("home_cell_id", sa.String(length=32), nullable=False))
        batch_op.add_column(sa.Column("dek_id", sa.String(length=32), nullable=False))
        batch_op.add_column(sa.Column("identity_ct", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_members_home_cell_id_cells"), "cells", ["home_cell_id"], ["id"]
        )


def downgrade() -> None:
    raise NotImplementedError("Lantern migrations are forward-only")
