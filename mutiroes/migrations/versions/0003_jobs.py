"""background jobs: the transactional outbox and the email delivery records

Revision ID: 0003_jobs
Revises: 0002_events
Create Date: 2026-11-29 04:40:00

"""
from alembic import op
import sqlalchemy as sa

import mutiroes.models


# revision identifiers, used by Alembic.
revision = '0003_jobs'
down_revision = '0002_events'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kwargs', sa.JSON(), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', mutiroes.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('push_attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_jobs'))
    )
    # the relay's only question: which rows are not pushed yet, oldest first
    op.create_index('ix_outbox_jobs_pending', 'outbox_jobs', ['created_at'], unique=False,
                    postgresql_where=sa.text('enqueued_at IS NULL'), sqlite_where=sa.text('enqueued_at IS NULL'))
    op.create_table('email_deliveries',
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', mutiroes.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_email_deliveries'))
    )
    with op.batch_alter_table('email_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_deliveries_sent_at'), ['sent_at'], unique=False)


def downgrade():
    with op.batch_alter_table('email_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_deliveries_sent_at'))
    op.drop_table('email_deliveries')
    op.drop_index('ix_outbox_jobs_pending', table_name='outbox_jobs',
                  postgresql_where=sa.text('enqueued_at IS NULL'), sqlite_where=sa.text('enqueued_at IS NULL'))
    op.drop_table('outbox_jobs')
