"""What the impact numbers can plausibly be: the hours one person can give, the amounts one event can report.

Verified hours are the point of the platform, so they are bounded by what a person could have given, never by what
someone typed: a participation earns at most the time from its check-in (or the start, when checked in earlier) to
the end, at most ``MAX_HOURS_PER_DAY`` of each calendar day (server time zone) the event spans, and only once the
event has ended. A check-in nobody vouched for (``CheckInMethod.SELF``) earns at most ``UNATTESTED_MAX_HOURS``.

A report's numbers are bounded twice: per person and day of the event (``PER_PERSON_PER_DAY``, the person-days being
the people checked in — at least one, the organizer — times the calendar days the event spans) and, whatever the
size of the event, by ``ABSOLUTE``. docs/accounts.md gives the reasons for each figure.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from mutiroes.events.models import CheckInMethod

MAX_HOURS_PER_DAY = 12.0
# the most an unattested check-in (the participant alone, at an event without a code) earns: one ordinary mutirão
UNATTESTED_MAX_HOURS = 4.0

# field -> the most one person can plausibly achieve in one day of an event
PER_PERSON_PER_DAY: dict[str, float] = {
    "trash_collected_kg": 50.0,
    "recyclable_material_kg": 50.0,
    "trees_planted": 200,
    "area_cleaned_m2": 5000.0,
    "total_hours": MAX_HOURS_PER_DAY,
}
# field -> the most one event can report, however many took part
ABSOLUTE: dict[str, float] = {
    "trash_collected_kg": 100_000.0,
    "recyclable_material_kg": 100_000.0,
    "trees_planted": 100_000,
    "area_cleaned_m2": 10_000_000.0,
    "total_hours": 100_000 * 15 * MAX_HOURS_PER_DAY,
}
UNITS = {
    "trash_collected_kg": "kg",
    "recyclable_material_kg": "kg",
    "trees_planted": "árvores",
    "area_cleaned_m2": "m²",
    "total_hours": "horas",
}


def _next_midnight(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    local = moment.astimezone(tz)
    following = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return following.astimezone(dt.UTC)


def days_spanned(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> int:
    """How many calendar days (in ``tz``) the interval [start, end) touches; at least 1."""
    first = start.astimezone(tz).date()
    # an event ending exactly at midnight does not touch the day that begins then
    last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date() if end > start else first
    return (last - first).days + 1


def day_capped_hours(begin: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> float:
    """Hours of [begin, end), counting at most ``MAX_HOURS_PER_DAY`` of each calendar day in ``tz``."""
    total = 0.0
    cursor = begin
    while cursor < end:
        boundary = min(end, _next_midnight(cursor, tz))
        total += min((boundary - cursor).total_seconds() / 3600, MAX_HOURS_PER_DAY)
        cursor = boundary
    return total


def participation_hours(
    *,
    start: dt.datetime,
    end: dt.datetime,
    check_in_time: dt.datetime | None,
    method: str | None,
    tz: ZoneInfo,
    share: float | None = None,
) -> float:
    """The hours one checked-in participation of an ended event earns (rounded to 0.01 h).

    ``share`` is the report's stated total_hours divided among the people checked in (None when not stated).
    """
    begin = max(start, check_in_time or start)
    if begin >= end:
        return 0.0
    hours = day_capped_hours(begin, end, tz)
    if method in (None, CheckInMethod.SELF):
        hours = min(hours, UNATTESTED_MAX_HOURS)
    if share is not None:
        hours = min(hours, share)
    return round(max(hours, 0.0), 2)


def report_limits(*, people: int, days: int) -> dict[str, float]:
    """field -> the largest value a report of an event with ``people`` checked in over ``days`` may state."""
    person_days = max(people, 1) * max(days, 1)
    return {name: min(per * person_days, ABSOLUTE[name]) for name, per in PER_PERSON_PER_DAY.items()}


def _number(value: float) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")  # 1.234,5 as written in Brazil


def implausible(values: dict[str, float | None], *, people: int, days: int) -> dict[str, list[str]]:
    """The fields of ``values`` above their plausible maximum, with the message saying what that maximum is."""
    limits = report_limits(people=people, days=days)
    people = max(people, 1)
    errors: dict[str, list[str]] = {}
    for name, limit in limits.items():
        value = values.get(name)
        if value is None or value <= limit:
            continue
        per = PER_PERSON_PER_DAY[name]
        errors[name] = [
            f"Valor acima do plausível: no máximo {_number(limit)} {UNITS[name]} para {people} "
            f"{'pessoa' if people == 1 else 'pessoas'} com check-in em {days} {'dia' if days == 1 else 'dias'} "
            f"de evento ({_number(per)} {UNITS[name]} por pessoa por dia; até {_number(ABSOLUTE[name])} por evento)."
        ]
    return errors
