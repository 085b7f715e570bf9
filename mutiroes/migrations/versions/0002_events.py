"""events and participations; search and distance functions; the nearby index

Revision ID: 0002_events
Revises: 0001_foundation
Create Date: 2026-11-29 05:00:00

On PostgreSQL this needs the contrib extensions cube, earthdistance and unaccent (Debian's postgresql-15 ships
them). earthdistance is not a "trusted" extension: the role running the migrations must be allowed to create it
(a superuser or the database owner with it pre-created by an administrator).
"""
from alembic import op
import sqlalchemy as sa

import mutiroes.models


revision = '0002_events'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


POSTGRES_FUNCTIONS = [
    # lower case without accents; IMMUTABLE (with the dictionary named explicitly) so it may be indexed later
    """
    CREATE OR REPLACE FUNCTION mutiroes_search_text(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$
    """,
    # haversine great-circle distance in km, the same formula and radius as the SQLite twin
    """
    CREATE OR REPLACE FUNCTION mutiroes_distance_km(float8, float8, float8, float8) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT 2 * 6371.0088 * asin(least(1.0, sqrt(
        power(sin(radians($3 - $1) / 2), 2)
        + cos(radians($1)) * cos(radians($3)) * power(sin(radians($4 - $2) / 2), 2)))) $$
    """,
]


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute('CREATE EXTENSION IF NOT EXISTS cube WITH SCHEMA public')
        op.execute('CREATE EXTENSION IF NOT EXISTS earthdistance WITH SCHEMA public')
        op.execute('CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public')
        for statement in POSTGRES_FUNCTIONS:
            op.execute(statement)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('organizer_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('start_date', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_date', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('registration_deadline', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('max_participants', sa.Integer(), nullable=False),
    sa.Column('confirmed_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('requires_approval', sa.Boolean(), nullable=False),
    sa.Column('waitlist_enabled', sa.Boolean(), nullable=False),
    sa.Column('require_check_in_code', sa.Boolean(), nullable=False),
    sa.Column('check_in_code', sa.String(length=12), nullable=False),
    sa.Column('required_tools', sa.Text(), nullable=False),
    sa.Column('provided_tools', sa.Text(), nullable=False),
    sa.Column('what_to_bring', sa.Text(), nullable=False),
    sa.Column('cover_image', sa.String(length=255), nullable=True),
    sa.Column('created_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('confirmed_count >= 0 AND confirmed_count <= max_participants', name=op.f('ck_events_capacity')),
    sa.CheckConstraint('max_participants >= 1', name=op.f('ck_events_max_participants_positive')),
    sa.CheckConstraint('start_date < end_date', name=op.f('ck_events_starts_before_end')),
    sa.CheckConstraint('registration_deadline <= start_date', name=op.f('ck_events_deadline_before_start')),
    sa.CheckConstraint('latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180', name=op.f('ck_events_coordinates')),
    sa.CheckConstraint("status IN ('draft', 'published', 'cancelled', 'completed')", name=op.f('ck_events_status_known')),
    sa.ForeignKeyConstraint(['category_id'], ['event_categories.id'], name=op.f('fk_events_category_id_event_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organizer_id'], ['users.id'], name=op.f('fk_events_organizer_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_organizer_id'), ['organizer_id'], unique=False)
        batch_op.create_index('ix_events_status_start_date', ['status', 'start_date'], unique=False)
        batch_op.create_index('ix_events_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_events_latitude_longitude', ['latitude', 'longitude'], unique=False)
    if postgres:
        # nearby and the radius filter: earth_box(...) @> ll_to_earth(latitude, longitude) is answered by this index
        op.execute('CREATE INDEX ix_events_earth ON events USING gist (ll_to_earth(latitude, longitude))')

    op.create_table('event_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('waitlisted_at', mutiroes.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('emergency_contact', sa.String(length=200), nullable=False),
    sa.Column('emergency_phone', sa.String(length=20), nullable=False),
    sa.Column('special_needs', sa.Text(), nullable=False),
    sa.Column('experience_level', sa.String(length=20), nullable=False),
    sa.Column('checked_in', sa.Boolean(), nullable=False),
    sa.Column('check_in_time', mutiroes.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('registered_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mutiroes.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'waitlisted', 'cancelled', 'rejected')", name=op.f('ck_event_participants_status_known')),
    sa.CheckConstraint("experience_level IN ('beginner', 'intermediate', 'advanced')", name=op.f('ck_event_participants_experience_level_known')),
    sa.CheckConstraint("(status = 'waitlisted') = (waitlisted_at IS NOT NULL)", name=op.f('ck_event_participants_waitlist_order')),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['users.id'], name=op.f('fk_event_participants_checked_in_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_participants_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_participants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_participants')),
    sa.UniqueConstraint('event_id', 'user_id', name='uq_event_participants_event_user')
    )
    with op.batch_alter_table('event_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_participants_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_event_participants_event_status', ['event_id', 'status'], unique=False)


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('event_participants', schema=None) as batch_op:
        batch_op.drop_index('ix_event_participants_event_status')
        batch_op.drop_index(batch_op.f('ix_event_participants_user_id'))
    op.drop_table('event_participants')
    if postgres:
        op.execute('DROP INDEX IF EXISTS ix_events_earth')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_latitude_longitude')
        batch_op.drop_index('ix_events_created_at')
        batch_op.drop_index('ix_events_status_start_date')
        batch_op.drop_index(batch_op.f('ix_events_organizer_id'))
        batch_op.drop_index(batch_op.f('ix_events_category_id'))
    op.drop_table('events')
    if postgres:
        # the extensions stay: other objects of the database may use them
        op.execute('DROP FUNCTION IF EXISTS mutiroes_distance_km(float8, float8, float8, float8)')
        op.execute('DROP FUNCTION IF EXISTS mutiroes_search_text(text)')
