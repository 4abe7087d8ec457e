"""Cases, their encrypted history and ballots, aggregate outcomes; intake routing on
cells; reminders for dialog drafts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("intake_open", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("intake_label_ct", sa.LargeBinary(), nullable=True))

    with op.batch_alter_table("dialogs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_ct", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_dialogs_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dialogs_remind_at"), ["remind_at"], unique=False)

    op.create_table(
        "cell_sites",
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("site_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cells.id"], name=op.f("fk_cell_sites_cell_id_cells")
        ),
        sa.PrimaryKeyConstraint("cell_id", "site_bidx", name=op.f("pk_cell_sites")),
    )
    with op.batch_alter_table("cell_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cell_sites_site_bidx"), ["site_bidx"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ref_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("subject_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("dek_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vote_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("keep", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_cases_cell_id_cells")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("ref_bidx", name=op.f("uq_cases_ref_bidx")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_cell_status", ["cell_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_subject_bidx"), ["subject_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_vote_deadline"), ["vote_deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_closed_at"), ["closed_at"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_events_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_votes",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("voter_key", sa.LargeBinary(length=16), nullable=False),
        sa.Column("choice_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_votes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "voter_key", name=op.f("pk_case_votes")),
    )

    op.create_table(
        "outcomes",
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_outcomes_cell_id_cells")),
        sa.PrimaryKeyConstraint("cell_id", "month", "outcome", name=op.f("pk_outcomes")),
    )


def downgrade() -> None:
    raise NotImplementedError("Lantern migrations are forward-only")
