"""outbox rows keep the request id of the request that caused them

Revision ID: 0006_outbox_request_id
Revises: 0005_impact
Create Date: 2026-12-01 22:00:00

Nullable: rows written before this revision, and jobs no request caused (periodic jobs, the CLI), have none. No
index: the column is read with its row, never searched.
"""

from alembic import op
import sqlalchemy as sa


revision = "0006_outbox_request_id"
down_revision = "0005_impact"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.drop_column("request_id")
