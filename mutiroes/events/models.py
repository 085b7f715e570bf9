"""Events domain models."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mutiroes.extensions import db


class EventCategory(db.Model):
    __tablename__ = "event_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    icon: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    color: Mapped[str] = mapped_column(sa.String(7), nullable=False, default="#2E7D32")
