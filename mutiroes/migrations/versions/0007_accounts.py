"""accounts: email verification, erasure, single-use account links; how check-ins were vouched for; when a
report's hours were credited; delayed jobs; the subjects of the emails sent

Revision ID: 0007_accounts
Revises: 0006_outbox_request_id
Create Date: 2026-12-03 09:00:00

Accounts that exist before this revision are taken as verified since they joined: their hours and badges were
credited under the rules of their time, and taking them away on deploy would punish every real volunteer for a
check the platform did not offer (docs/accounts.md). Check-ins made before it get the method their row tells:
someone else checked them in (the organizer), the event asked for its code, or nobody vouched for them.
"""

from alembic import op
import sqlalchemy as sa

import mutiroes.models


revision = "0007_accounts"
down_revision = "0006_outbox_request_id"
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMNs, no batch: SQLite can add these in place, and a batch copy of these tables would reflect the
    # expression indexes of users, which SQLite cannot
    op.add_column("users", sa.Column("email_verified_at", mutiroes.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("deleted_at", mutiroes.models.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE users SET email_verified_at = date_joined")

    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", mutiroes.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", mutiroes.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", mutiroes.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('password_reset', 'email_verification')", name=op.f("ck_account_tokens_purpose_known")
        ),
        sa.CheckConstraint(
            "(token_hash IS NULL) = (expires_at IS NULL)", name=op.f("ck_account_tokens_issued_with_expiry")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_account_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
    )
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_tokens_user_id"), ["user_id"], unique=False)

    op.add_column(
        "event_participants",
        sa.Column(
            "check_in_method",
            sa.String(length=12),
            sa.CheckConstraint(
                "check_in_method IN ('organizer', 'code', 'self')",
                name=op.f("ck_event_participants_check_in_method_known"),
            ),
            nullable=True,
        ),
    )
    op.execute(
        "UPDATE event_participants SET check_in_method = CASE"
        " WHEN checked_in_by_id IS NOT NULL AND checked_in_by_id <> user_id THEN 'organizer'"
        " WHEN EXISTS (SELECT 1 FROM events WHERE events.id = event_participants.event_id"
        " AND events.require_check_in_code) THEN 'code'"
        " ELSE 'self' END"
        " WHERE checked_in"
    )

    op.add_column(
        "event_reports", sa.Column("hours_credited_at", mutiroes.models.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("email_deliveries", sa.Column("subject", sa.String(length=300), nullable=True))
    op.add_column("outbox_jobs", sa.Column("run_at", mutiroes.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.drop_column("run_at")
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.drop_column("subject")
    with op.batch_alter_table("event_reports", schema=None) as batch_op:
        batch_op.drop_column("hours_credited_at")
    with op.batch_alter_table("event_participants", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_event_participants_check_in_method_known"), type_="check")
        batch_op.drop_column("check_in_method")
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_tokens_user_id"))
    op.drop_table("account_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("email_verified_at")
