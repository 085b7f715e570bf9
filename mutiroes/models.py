"""The database handle, column types, mixins and constraints shared by every domain's models, and the page query.

``db`` is unbound here: ``create_app`` binds it. Nothing in this module opens a connection.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

from mutiroes.timeutil import utcnow

# Stable constraint names so Alembic migrations are reproducible on PostgreSQL and SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds, for a service that answers with the rows it just wrote:
    their values are the ones it wrote, and reloading them after the commit would cost another checkout, ping and
    SELECT on the request's path. Anything updated in SQL behind the ORM's back keeps its old value in Python, so
    only use it when the answer does not read such a value."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC in Python; ``timestamptz`` on PostgreSQL, naive UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def one_of(column: str, values: type[enum.StrEnum]) -> sa.CheckConstraint:
    """``CHECK (<column> IN ('a', 'b', ...))`` named ``<column>_known``: the values of a StrEnum, in its order.

    The text and name are the ones the migrations wrote, so the models and the database say the same thing.
    """
    listed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


# A page's ``count`` is exact while it is at most this; past it, the planner's estimate (PostgreSQL) stands in, so no
# page of a million-row list counts a million rows. The envelope stays consistent either way: ``count`` is never
# below the rows this page proves to exist, and the last page's count is always exact.
EXACT_COUNT_LIMIT = 1000


def paginate(statement: sa.Select, *, page: int, page_size: int) -> tuple[int, list]:
    """One page of ``statement``'s rows and their count (see EXACT_COUNT_LIMIT).

    The page is read with one row more than it shows: without that row it is the last page and its count is known
    at once (no count statement at all); otherwise one bounded count says whether the total passes the limit, and
    only then is the planner asked for its estimate.
    """
    offset = (page - 1) * page_size
    rows = list(db.session.scalars(statement.limit(page_size + 1).offset(offset)))
    if len(rows) <= page_size:
        return offset + len(rows), rows
    rows = rows[:page_size]
    at_least = offset + page_size + 1  # this page is full and one more row follows it
    unordered = statement.order_by(None)
    if db.session.get_bind().dialect.name != "postgresql":
        return max(_count(unordered), at_least), rows  # SQLite: the embedded mode's few rows, and no estimates
    if at_least <= EXACT_COUNT_LIMIT:
        counted = _count(unordered.limit(EXACT_COUNT_LIMIT + 1))
        if counted <= EXACT_COUNT_LIMIT:
            return max(counted, at_least), rows
    return max(_estimated_count(unordered), EXACT_COUNT_LIMIT + 1, at_least), rows


def _count(statement: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))


def _estimated_count(statement: sa.Select) -> int:
    """PostgreSQL's estimate of the rows of ``statement`` (EXPLAIN: planning only, nothing is read)."""
    compiled = statement.compile(bind=db.session.get_bind(), compile_kwargs={"render_postcompile": True})
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    return int(plan[0]["Plan"]["Plan Rows"])
