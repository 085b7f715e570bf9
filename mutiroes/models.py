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


def paginate(statement: sa.Select, *, page: int, page_size: int) -> tuple[int, list]:
    """The row count of ``statement`` and one page of its rows: two SQL statements, whatever the page size."""
    count = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery()))
    rows = db.session.scalars(statement.limit(page_size).offset((page - 1) * page_size)).all()
    return count, list(rows)
