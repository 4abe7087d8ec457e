"""Call-outs and their answers, the delivery outbox and Signal standing, escalation
prompts, debriefs, the APScheduler job table; a pause on cases, an announcement group on
cells.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_retention",
            ["closed_at"],
            unique=False,
            postgresql_where=sa.text("status = 'closed' AND NOT keep"),
            sqlite_where=sa.text("status = 'closed' AND keep = 0"),
        )
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False
        )

    op.create_table(
        "delivery_state",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("challenge_token", sa.String(length=200), nullable=True),
        sa.Column("challenged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backoff_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_state")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("body_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_batch"), ["batch"], unique=False)
        batch_op.create_index("ix_outbox_due", ["state", "priority", "not_before"], unique=False)

    op.create_table(
        "prompts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ref_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("trigger_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("dek_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts")),
        sa.UniqueConstraint("ref_bidx", name=op.f("uq_prompts_ref_bidx")),
        sa.UniqueConstraint("trigger_bidx", name=op.f("uq_prompts_trigger_bidx")),
    )
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.create_index("ix_prompts_status_step", ["status", "step_deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_prompts_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "prompt_asks",
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("member_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_prompt_asks_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prompt_id", "member_bidx", name=op.f("pk_prompt_asks")),
    )
    with op.batch_alter_table("prompt_asks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prompt_asks_member_bidx"), ["member_bidx"], unique=False
        )

    op.create_table(
        "callouts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ref_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("cell_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("dek_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reveal_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expand_cursor", sa.String(length=32), nullable=True),
        sa.Column("reminders_done", sa.Integer(), nullable=False),
        sa.Column("revealed", sa.Boolean(), nullable=False),
        sa.Column("nudged", sa.Boolean(), nullable=False),
        sa.Column("checks_done", sa.Integer(), nullable=False),
        sa.Column("debriefed", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_callouts_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_callouts_cell_id_cells")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callouts")),
        sa.UniqueConstraint("ref_bidx", name=op.f("uq_callouts_ref_bidx")),
    )
    with op.batch_alter_table("callouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callouts_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_callouts_status_send_at", ["status", "send_at"], unique=False)
        batch_op.create_index("ix_callouts_status_starts_at", ["status", "starts_at"], unique=False)

    op.create_table(
        "callout_members",
        sa.Column("callout_id", sa.String(length=32), nullable=False),
        sa.Column("member_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("member_ct", sa.LargeBinary(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revealed", sa.Boolean(), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callouts.id"],
            name=op.f("fk_callout_members_callout_id_callouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("callout_id", "member_bidx", name=op.f("pk_callout_members")),
    )
    with op.batch_alter_table("callout_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callout_members_member_bidx"), ["member_bidx"], unique=False
        )

    op.create_table(
        "debriefs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("callout_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callouts.id"],
            name=op.f("fk_debriefs_callout_id_callouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debriefs")),
    )
    with op.batch_alter_table("debriefs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debriefs_callout_id"), ["callout_id"], unique=False)

    op.create_table(
        "sent_refs",
        sa.Column("ref_bidx", sa.LargeBinary(length=16), nullable=False),
        sa.Column("callout_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callouts.id"],
            name=op.f("fk_sent_refs_callout_id_callouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ref_bidx", name=op.f("pk_sent_refs")),
    )
    with op.batch_alter_table("sent_refs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_refs_callout_id"), ["callout_id"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_ct", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("Lantern migrations are forward-only")
