"""the event list at scale: an index per ordering, the state and city filters, search on a stored text

Revision ID: 0008_list_indexes
Revises: 0007_accounts
Create Date: 2026-12-03 09:00:00

- (status, created_at, id) serves the default order (newest first) and replaces the index on created_at alone;
  (status, confirmed_count, id) the participants_count orders; (status, start_date) already serves start_date.
- events.searchable_text holds title, description, address and city as `search` compares them (lower case, no
  accents, fields joined by U+001F), events.searchable_city the city as the city filter does (with its index):
  filled here for existing rows, written by the ORM on every flush afterwards (no server default: a row written
  without the ORM must say them too).
- PostgreSQL only: a trigram GIN index on searchable_text (pg_trgm, a trusted extension) for LIKE '%term%'
  (listed in migrations/env.py, NOT_IN_THE_MODELS: SQLite has no such index), and mutiroes_distance_km made
  inlinable (least() is not strict, so the STRICT function was called row by row; float8smaller is): the same
  results, for NULLs too, about ten times cheaper per row for the radius filter and nearby.
"""

import unicodedata

from alembic import op
import sqlalchemy as sa


revision = "0008_list_indexes"
down_revision = "0007_accounts"
branch_labels = None
depends_on = None

SEPARATOR = "\x1f"
BATCH = 5000


def _searchable(value):
    # mutiroes.events.models.searchable as of this revision (frozen here: a migration does what it did when written)
    decomposed = unicodedata.normalize("NFKD", value or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace(SEPARATOR, " ")


DISTANCE_FUNCTION = """
    CREATE OR REPLACE FUNCTION mutiroes_distance_km(float8, float8, float8, float8) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT 2 * 6371.0088 * asin({smaller}(1.0, sqrt(
        power(sin(radians($3 - $1) / 2), 2)
        + cos(radians($1)) * cos(radians($3)) * power(sin(radians($4 - $2) / 2), 2)))) $$
"""


def _fill_searchable_text(connection):
    events = sa.table(
        "events",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("description", sa.Text),
        sa.column("address", sa.String),
        sa.column("city", sa.String),
        sa.column("searchable_text", sa.Text),
        sa.column("searchable_city", sa.String),
    )
    update = (
        events.update()
        .where(events.c.id == sa.bindparam("row_id"))
        .values(searchable_text=sa.bindparam("document"), searchable_city=sa.bindparam("city_key"))
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.title, events.c.description, events.c.address, events.c.city)
            .where(events.c.id > last)
            .order_by(events.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        documents = [
            {
                "row_id": row.id,
                "document": SEPARATOR.join(_searchable(value) for value in row[1:]),
                "city_key": _searchable(row.city),
            }
            for row in rows
        ]
        connection.execute(update, documents)
        last = rows[-1].id


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("searchable_text", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("searchable_city", sa.String(length=100), server_default="", nullable=False))
        batch_op.drop_index("ix_events_created_at")
        batch_op.create_index("ix_events_status_created_at", ["status", "created_at", "id"], unique=False)
        batch_op.create_index("ix_events_status_confirmed_count", ["status", "confirmed_count", "id"], unique=False)
        batch_op.create_index("ix_events_state", ["state"], unique=False)
        batch_op.create_index("ix_events_searchable_city", ["searchable_city"], unique=False)
    _fill_searchable_text(op.get_bind())
    # no default from now on: a row written without the ORM and without this column is refused, not unsearchable
    # (on SQLite that copies the table; the tables its foreign keys name need not be reflected for it)
    with op.batch_alter_table("events", schema=None, reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.alter_column("searchable_text", existing_type=sa.Text(), existing_nullable=False, server_default=None)
        batch_op.alter_column(
            "searchable_city", existing_type=sa.String(length=100), existing_nullable=False, server_default=None
        )
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        op.execute(
            "CREATE INDEX ix_events_searchable_text_trgm ON events USING gin (searchable_text public.gin_trgm_ops)"
        )
        op.execute(DISTANCE_FUNCTION.format(smaller="float8smaller"))


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # the extension stays: other objects of the database may use it
        op.execute(DISTANCE_FUNCTION.format(smaller="least"))
        op.execute("DROP INDEX IF EXISTS ix_events_searchable_text_trgm")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_searchable_city")
        batch_op.drop_index("ix_events_state")
        batch_op.drop_index("ix_events_status_confirmed_count")
        batch_op.drop_index("ix_events_status_created_at")
        batch_op.create_index("ix_events_created_at", ["created_at"], unique=False)
        batch_op.drop_column("searchable_city")
        batch_op.drop_column("searchable_text")
