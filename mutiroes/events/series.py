"""Series: repeating an event at the next dates of a rhythm. Each public function is one unit of work.

A copy is a new event with everything the organizers wrote (place, times of day, capacity, rules, tools, the
resources it needs, the co-organizers) and nothing that happened to the original (participants, comments, photos,
pledges, report, cover image, check-in code). Dates are counted in the server zone, so a 08:00 clean-up stays at
08:00 local time through any change of UTC offset; a monthly copy of the 31st falls on the last day of shorter
months. Copies never start in the past: repeating an event that already happened continues its rhythm from today.
All share ``series_id``: the series' first event's id (the original's, when it starts a series).
"""

from __future__ import annotations

import calendar
import datetime as dt

import sqlalchemy as sa

from mutiroes.content import public as content
from mutiroes.events import access
from mutiroes.events.models import Event, EventCoOrganizer, EventStatus
from mutiroes.models import db
from mutiroes.timeutil import to_local, utcnow
from mutiroes.users.models import User

STEP_DAYS = {"weekly": 7, "biweekly": 14}
# what a copy takes from the original: the fields the organizers write (see events.schemas), but the dates
COPIED_FIELDS = (
    "title",
    "description",
    "category_id",
    "organizer_id",
    "address",
    "city",
    "state",
    "latitude",
    "longitude",
    "max_participants",
    "min_age",
    "max_age",
    "is_public",
    "requires_approval",
    "waitlist_enabled",
    "require_check_in_code",
    "required_tools",
    "provided_tools",
    "what_to_bring",
)
# the rhythm of an event in the far past still reaches today within this many steps (52 years of weeks)
MAX_STEPS = 52 * 52


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def occurrence(start: dt.datetime, frequency: str, step: int) -> dt.datetime:
    """The ``step``-th date after ``start`` (UTC in, UTC out), counted on the wall clock of the server zone."""
    local = to_local(start)
    if frequency == "monthly":
        shifted = _add_months(local, step)
    else:
        shifted = local + dt.timedelta(days=STEP_DAYS[frequency] * step)  # same tzinfo: wall-clock arithmetic
    return shifted.astimezone(dt.UTC)


def next_starts(start: dt.datetime, frequency: str, count: int, *, now: dt.datetime) -> list[dt.datetime]:
    """``count`` dates after ``start`` on its rhythm, none of them before ``now``."""
    starts, step = [], 1
    while len(starts) < count and step <= MAX_STEPS + count:
        moment = occurrence(start, frequency, step)
        if moment > now:
            starts.append(moment)
        step += 1
    return starts


def repeat(*, event_id: int, caller: User, frequency: str, count: int) -> list[Event]:
    """Copy the event ``count`` times at the next dates of ``frequency``; returns the copies, earliest first."""
    original = access.get_managed(event_id, caller)
    series_id = original.series_id or original.id
    original.series_id = series_id
    length = original.end_date - original.start_date
    deadline_lead = original.start_date - original.registration_deadline
    values = {name: getattr(original, name) for name in COPIED_FIELDS}
    # a draft's copies are drafts; the copies of a published, cancelled or completed event are new, published ones
    values["status"] = EventStatus.DRAFT if original.status == EventStatus.DRAFT else EventStatus.PUBLISHED
    copies = [
        Event(
            **values,
            start_date=start,
            end_date=start + length,
            registration_deadline=start - deadline_lead,
            series_id=series_id,
        )
        for start in next_starts(original.start_date, frequency, count, now=utcnow())
    ]
    db.session.add_all(copies)
    db.session.flush()
    co_organizer_ids = [person.id for person in original.co_organizers]
    if co_organizer_ids:
        db.session.execute(
            sa.insert(EventCoOrganizer),
            [
                {"event_id": copy.id, "user_id": user_id, "added_by_id": caller.id, "created_at": utcnow()}
                for copy in copies
                for user_id in co_organizer_ids
            ],
        )
    content.copy_resources(original.id, [copy.id for copy in copies])
    db.session.commit()
    return copies
