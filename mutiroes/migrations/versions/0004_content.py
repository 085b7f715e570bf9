"""event content: comments, photos, resources and pledges

Revision ID: 0004_content
Revises: 0003_jobs
Create Date: 2026-11-29 04:53:13

A reply's parent is a comment of the same event (composite foreign key on (event_id, parent_id)); a resource's
quantity_provided stays within 0..quantity_needed (CHECK), the guard of the pledge's conditional UPDATE.
"""
from alembic import op
import sqlalchemy as sa

import mutiroes.models


# revision identifiers, used by Alembic.
revision = '0004_content'
down_revision = '0003_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('event_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(content) BETWEEN 1 AND 2000', name=op.f('ck_event_comments_content_length')),
    sa.CheckConstraint('parent_id IS NULL OR parent_id <> id', name=op.f('ck_event_comments_not_own_parent')),
    sa.ForeignKeyConstraint(['event_id', 'parent_id'], ['event_comments.event_id', 'event_comments.id'], name='fk_event_comments_parent_same_event', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_comments_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_comments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_comments')),
    sa.UniqueConstraint('event_id', 'id', name='uq_event_comments_event_id_id')
    )
    with op.batch_alter_table('event_comments', schema=None) as batch_op:
        batch_op.create_index('ix_event_comments_event_parent_created', ['event_id', 'parent_id', 'created_at'], unique=False)
        batch_op.create_index('ix_event_comments_parent_id', ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_comments_user_id'), ['user_id'], unique=False)

    op.create_table('event_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('photo', sa.String(length=255), nullable=False),
    sa.Column('caption', sa.String(length=300), nullable=False),
    sa.Column('is_before', sa.Boolean(), nullable=False),
    sa.Column('is_after', sa.Boolean(), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('NOT (is_before AND is_after)', name=op.f('ck_event_photos_before_or_after')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_photos_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_photos_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_photos'))
    )
    with op.batch_alter_table('event_photos', schema=None) as batch_op:
        batch_op.create_index('ix_event_photos_event_created', ['event_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_photos_user_id'), ['user_id'], unique=False)

    op.create_table('event_resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('resource_type', sa.String(length=20), nullable=False),
    sa.Column('quantity_needed', sa.Integer(), nullable=False),
    sa.Column('quantity_provided', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("resource_type IN ('tool', 'material', 'equipment', 'other')", name=op.f('ck_event_resources_resource_type_known')),
    sa.CheckConstraint('quantity_needed >= 1', name=op.f('ck_event_resources_quantity_needed_positive')),
    sa.CheckConstraint('quantity_provided >= 0 AND quantity_provided <= quantity_needed', name=op.f('ck_event_resources_provided_within_needed')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_resources_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_resources'))
    )
    with op.batch_alter_table('event_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_resources_event_id'), ['event_id'], unique=False)

    op.create_table('resource_pledges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity >= 1', name=op.f('ck_resource_pledges_quantity_positive')),
    sa.ForeignKeyConstraint(['resource_id'], ['event_resources.id'], name=op.f('fk_resource_pledges_resource_id_event_resources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_resource_pledges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_pledges'))
    )
    with op.batch_alter_table('resource_pledges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_pledges_resource_id'), ['resource_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_pledges_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('resource_pledges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_pledges_user_id'))
        batch_op.drop_index(batch_op.f('ix_resource_pledges_resource_id'))

    op.drop_table('resource_pledges')
    with op.batch_alter_table('event_resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_resources_event_id'))

    op.drop_table('event_resources')
    with op.batch_alter_table('event_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_photos_user_id'))
        batch_op.drop_index('ix_event_photos_event_created')

    op.drop_table('event_photos')
    with op.batch_alter_table('event_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_comments_user_id'))
        batch_op.drop_index('ix_event_comments_parent_id')
        batch_op.drop_index('ix_event_comments_event_parent_created')

    op.drop_table('event_comments')