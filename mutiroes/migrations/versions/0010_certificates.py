"""volunteer-hours certificates: one unguessable verification code per participation

Revision ID: 0010_certificates
Revises: 0009_organizing
Create Date: 2026-12-02 00:50:00

- certificates (participation_id primary key, code UNIQUE, created_at); deleting the participation deletes it.
"""

from alembic import op
import sqlalchemy as sa

import mutiroes.models


revision = "0010_certificates"
down_revision = "0009_organizing"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificates',
    sa.Column('participation_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participation_id'], ['event_participants.id'], name=op.f('fk_certificates_participation_id_event_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('participation_id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('code', name=op.f('uq_certificates_code'))
    )


def downgrade():
    op.drop_table('certificates')
