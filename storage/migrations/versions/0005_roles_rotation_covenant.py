"""Roles, skills and pauses of members; changes to the role catalogue; role slots offered
in rotation; the participation covenant; when a cell's organizers were last told about
its load (and an index to count it per cell).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("availability", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_paused_until"), ["paused_until"], unique=False)
    with op.batch_alter_table("callouts", schema=None) as batch_op:
        batch_op.create_index("ix_callouts_cell_starts", ["cell_id", "starts_at"], unique=False)
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.add_column(sa.Column("load_warned_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "network_roles",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("custom", sa.Boolean(), nullable=False),
        sa.Column("labels_ct", sa.LargeBinary(), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_network_roles")),
    )
    op.create_table(
        "member_roles",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("role_key", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_roles_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "role_key", name=op.f("pk_member_roles")),
    )
    with op.batch_alter_table("member_roles", schema=None) as batch_op:
        batch_op.create_index("ix_member_roles_role", ["role_key"], unique=False)
    op.create_table(
        "member_skills",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("skill", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_skills_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "skill", name=op.f("pk_member_skills")),
    )
    with op.batch_alter_table("member_skills", schema=None) as batch_op:
        batch_op.create_index("ix_member_skills_skill", ["skill"], unique=False)
    op.create_table(
        "slot_offers",
        sa.Column("callout_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("member_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("member_ct", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callouts.id"],
            name=op.f("fk_slot_offers_callout_id_callouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("callout_id", "slot", "member_bidx", name=op.f("pk_slot_offers")),
    )
    with op.batch_alter_table("slot_offers", schema=None) as batch_op:
        batch_op.create_index("ix_slot_offers_state_expires", ["state", "expires_at"], unique=False)
    op.create_table(
        "covenants",
        sa.Column("case_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("subject_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gave_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_covenants_cell_id_cells")),
        sa.PrimaryKeyConstraint("case_bidx", name=op.f("pk_covenants")),
    )
    with op.batch_alter_table("covenants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_covenants_cell_id"), ["cell_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_covenants_subject_bidx"), ["subject_bidx"], unique=False
        )


def downgrade() -> None:
    raise NotImplementedError("Lantern migrations are forward-only")
