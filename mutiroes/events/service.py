"""Events: the business rules. Each public function is one unit of work."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.events.models import EventCategory
from mutiroes.extensions import db


def get_all_categories() -> list[EventCategory]:
    return list(db.session.scalars(sa.select(EventCategory).order_by(EventCategory.name)))
