"""Fixtures of the impact and event-email tests: the real SMTP sink and burst RQ workers (tests/jobs), the event
factories (tests/events), and a few readers of the rows these tests assert on."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from mutiroes.events.models import Event, EventParticipant
from mutiroes.impact.models import Badge, UserBadge
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User
from tests.events.conftest import event_row, make_event, participations, user_with_token  # noqa: F401
from tests.jobs.conftest import (  # noqa: F401
    _empty_redis_after_test,
    jobs_app,
    jobs_client,
    rq_connection,
    sink,
    smtp_sink,
    work,
)


@pytest.fixture
def join(app):
    """Put a user on an event straight into the database: confirmed (default), checked in or not (at the start,
    or ``check_in_time``; by ``method``, which defaults to none recorded: an unattested check-in)."""

    def build(
        event_id: int,
        user_id: int,
        *,
        status: str = "confirmed",
        checked_in: bool = False,
        check_in_time: dt.datetime | None = None,
        method: str | None = None,
    ) -> int:
        with app.app_context():
            now = utcnow()
            start = db.session.get(Event, event_id).start_date
            row = EventParticipant(
                event_id=event_id,
                user_id=user_id,
                status=status,
                waitlisted_at=now if status == "waitlisted" else None,
                checked_in=checked_in,
                check_in_time=(check_in_time or min(now, start)) if checked_in else None,
                check_in_method=method if checked_in else None,
                registered_at=now - dt.timedelta(days=3),
            )
            db.session.add(row)
            if status == "confirmed":
                db.session.execute(
                    sa.text("UPDATE events SET confirmed_count = confirmed_count + 1 WHERE id = :id"), {"id": event_id}
                )
            db.session.commit()
            pid = row.id
            db.session.remove()
        return pid

    return build


@pytest.fixture
def user_numbers(app):
    """{user_id: (total_events_participated, total_hours_volunteered)}"""

    def read(*user_ids: int) -> dict[int, tuple[int, float]]:
        with app.app_context():
            rows = db.session.execute(
                sa.select(User.id, User.total_events_participated, User.total_hours_volunteered).where(
                    User.id.in_(user_ids)
                )
            ).all()
            db.session.remove()
        return {row[0]: (row[1], row[2]) for row in rows}

    return read


@pytest.fixture
def badge_codes(app):
    """{user_id: set of earned badge codes}"""

    def read(*user_ids: int) -> dict[int, set[str]]:
        with app.app_context():
            rows = db.session.execute(
                sa.select(UserBadge.user_id, Badge.code).join(Badge, Badge.id == UserBadge.badge_id)
            ).all()
            db.session.remove()
        found: dict[int, set[str]] = {user_id: set() for user_id in user_ids}
        for user_id, code in rows:
            if user_id in found:
                found[user_id].add(code)
        return found

    return read


@pytest.fixture
def hours_of(app):
    """{user_id: hours} of one event's participations."""

    def read(event_id: int) -> dict[int, float]:
        with app.app_context():
            rows = db.session.execute(
                sa.select(EventParticipant.user_id, EventParticipant.hours).where(EventParticipant.event_id == event_id)
            ).all()
            db.session.remove()
        return dict(rows)

    return read
