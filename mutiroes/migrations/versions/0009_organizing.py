"""organizing together: co-organizers, series, organizers' messages, calendar feeds, moderation of content

Revision ID: 0009_organizing
Revises: 0008_list_indexes
Create Date: 2026-12-01 23:30:00

- events.sequence (the RFC 5545 SEQUENCE of the event's calendar entry, 0 for every existing event) and
  events.series_id (the first event of a series; not a foreign key, a series outlives its first event);
- event_co_organizers, event_messages and their recipients, calendar_feeds (one secret token per person);
- event_comments.visibility and event_photos.visibility (existing rows: visible) and content_reports (one report per
  person and item: UNIQUE (comment_id, reporter_id) and (photo_id, reporter_id); exactly one item: CHECK).

Written on a branch from 0006; revises 0008_list_indexes since accounts and perf were merged before it (one chain).
"""

from alembic import op
import sqlalchemy as sa

import mutiroes.models


revision = "0009_organizing"
down_revision = "0008_list_indexes"
branch_labels = None
depends_on = None

NO_REFERRED_TABLES = {"resolve_fks": False}


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token', name=op.f('uq_calendar_feeds_token'))
    )
    op.create_table('event_co_organizers',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_event_co_organizers_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_co_organizers_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_co_organizers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'user_id', name=op.f('pk_event_co_organizers'))
    )
    with op.batch_alter_table('event_co_organizers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_co_organizers_user_id'), ['user_id'], unique=False)

    op.create_table('event_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=150), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('recipients_count', sa.Integer(), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("audience IN ('confirmed', 'all')", name=op.f('ck_event_messages_audience_known')),
    sa.CheckConstraint('length(body) BETWEEN 1 AND 5000', name=op.f('ck_event_messages_body_length')),
    sa.CheckConstraint('length(subject) BETWEEN 1 AND 150', name=op.f('ck_event_messages_subject_length')),
    sa.CheckConstraint('recipients_count >= 0', name=op.f('ck_event_messages_recipients_count_non_negative')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_messages_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_event_messages_sent_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_messages'))
    )
    with op.batch_alter_table('event_messages', schema=None) as batch_op:
        batch_op.create_index('ix_event_messages_event_created', ['event_id', 'created_at'], unique=False)

    op.create_table('content_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('photo_id', sa.Integer(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', mutiroes.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("reason IN ('spam', 'offensive', 'personal_data', 'other')", name=op.f('ck_content_reports_reason_known')),
    sa.CheckConstraint("status IN ('open', 'hidden', 'restored', 'dismissed')", name=op.f('ck_content_reports_status_known')),
    sa.CheckConstraint('(comment_id IS NULL) <> (photo_id IS NULL)', name=op.f('ck_content_reports_one_item')),
    sa.CheckConstraint('length(details) <= 1000', name=op.f('ck_content_reports_details_length')),
    sa.ForeignKeyConstraint(['comment_id'], ['event_comments.id'], name=op.f('fk_content_reports_comment_id_event_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_content_reports_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['event_photos.id'], name=op.f('fk_content_reports_photo_id_event_photos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_content_reports_reporter_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_content_reports_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_reports')),
    sa.UniqueConstraint('comment_id', 'reporter_id', name='uq_content_reports_comment_reporter'),
    sa.UniqueConstraint('photo_id', 'reporter_id', name='uq_content_reports_photo_reporter')
    )
    with op.batch_alter_table('content_reports', schema=None) as batch_op:
        batch_op.create_index('ix_content_reports_event_status', ['event_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_content_reports_reporter_id'), ['reporter_id'], unique=False)

    op.create_table('event_message_recipients',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['event_messages.id'], name=op.f('fk_event_message_recipients_message_id_event_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_message_recipients_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', 'user_id', name=op.f('pk_event_message_recipients'))
    )
    with op.batch_alter_table('event_message_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_message_recipients_user_id'), ['user_id'], unique=False)

    # a CHECK on an existing table: SQLite rebuilds the table (batch mode copies its other constraints over). The
    # tables it points at are not reflected (resolve_fks): users' expression indexes cannot be, and SQLAlchemy warns
    # (literal names and texts: tests/test_models.py reads them to compare with the models)
    with op.batch_alter_table('event_comments', schema=None, reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
        batch_op.add_column(sa.Column('visibility', sa.String(length=20), server_default='visible', nullable=False))
        batch_op.create_check_constraint(op.f('ck_event_comments_visibility_known'), "visibility IN ('visible', 'hidden_by_reports', 'hidden')")

    with op.batch_alter_table('event_photos', schema=None, reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
        batch_op.add_column(sa.Column('visibility', sa.String(length=20), server_default='visible', nullable=False))
        batch_op.create_check_constraint(op.f('ck_event_photos_visibility_known'), "visibility IN ('visible', 'hidden_by_reports', 'hidden')")

    with op.batch_alter_table('events', schema=None, reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
        batch_op.add_column(sa.Column('sequence', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_events_sequence_non_negative'), 'sequence >= 0')
        batch_op.create_index(batch_op.f('ix_events_series_id'), ['series_id'], unique=False)



def downgrade():
    with op.batch_alter_table('events', schema=None, reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_series_id'))
        batch_op.drop_constraint(batch_op.f('ck_events_sequence_non_negative'), type_='check')
        batch_op.drop_column('series_id')
        batch_op.drop_column('sequence')

    for table in ('event_photos', 'event_comments'):
        with op.batch_alter_table(table, schema=None, reflect_kwargs=NO_REFERRED_TABLES) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_visibility_known'), type_='check')
            batch_op.drop_column('visibility')

    with op.batch_alter_table('event_message_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_message_recipients_user_id'))

    op.drop_table('event_message_recipients')
    with op.batch_alter_table('content_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_reports_reporter_id'))
        batch_op.drop_index('ix_content_reports_event_status')

    op.drop_table('content_reports')
    with op.batch_alter_table('event_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_event_messages_event_created')

    op.drop_table('event_messages')
    with op.batch_alter_table('event_co_organizers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_co_organizers_user_id'))

    op.drop_table('event_co_organizers')
    op.drop_table('calendar_feeds')
