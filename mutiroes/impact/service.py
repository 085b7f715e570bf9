"""Impact: post-event reports and the numbers built on verified attendance. Each public function is one unit of work.

Verified attendance = a confirmed participation that was checked in, of an event that was not cancelled and has
ended, by an account whose email address is verified. Its hours are the ``hours`` the report statistics job stored
on the participation (see ``jobs`` and ``rules``); counters, badges, the leaderboard, ranks and the impact numbers
are all read from there. A report's numbers count in the public figures only once its event has ended.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from mutiroes import jobs
from mutiroes.errors import Conflict, NotFound, ValidationError
from mutiroes.events import access
from mutiroes.events.models import Event, EventCategory, EventParticipant, EventStatus, ParticipationStatus
from mutiroes.impact import rules
from mutiroes.impact.models import Badge, EventReport, MonthlyImpactReport, UserBadge
from mutiroes.models import db, paginate
from mutiroes.timeutil import server_tz, utcnow
from mutiroes.users import profiles
from mutiroes.users.models import User

STATISTICS_JOB = "process_event_report_statistics"
LEADERBOARD_LIMIT = 50
PUBLIC_HISTORY_LIMIT = 20


def ended():
    """The event is over (needs ``Event`` joined): only then do its hours and its report's numbers count."""
    return Event.end_date <= utcnow()


def verified():
    """The condition of verified attendance (needs ``Event`` joined): checked in, confirmed, at an event that was not
    cancelled and has ended, by a verified account."""
    return sa.and_(
        EventParticipant.checked_in.is_(True),
        EventParticipant.status == ParticipationStatus.CONFIRMED,
        Event.status != EventStatus.CANCELLED,
        ended(),
        EventParticipant.user.has(User.email_verified_at.is_not(None)),
    )


def credited_organizing():
    """An organized event that counts for the organizer's badges (needs ``Event`` joined): held, and over."""
    return sa.and_(Event.status.not_in((EventStatus.CANCELLED, EventStatus.DRAFT)), ended())


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """[first instant, first instant of the next month) of a calendar month in the server zone, in UTC."""
    tz = server_tz()
    start = dt.datetime(year, month, 1, tzinfo=tz)
    following = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(dt.UTC), following.astimezone(dt.UTC)


def current_month() -> tuple[int, int]:
    today = utcnow().astimezone(server_tz())
    return today.year, today.month


# --- reports ---------------------------------------------------------------------------------------------------


def _report_of(event_id: int) -> EventReport | None:
    return db.session.scalar(sa.select(EventReport).where(EventReport.event_id == event_id))


def get_report(*, event_id: int, caller: User | None) -> EventReport:
    access.get_visible(event_id, caller)
    report = _report_of(event_id)
    if report is None:
        raise NotFound("Este evento ainda não tem relatório.")
    return report


def authorize_report(*, event_id: int, caller: User) -> Event:
    """The event whose report the caller may file or change: its organizing team's (``access.Action.REPORT``)."""
    return access.get_managed(event_id, caller, access.Action.REPORT)


def _organized_event(event_id: int, caller: User) -> Event:
    return authorize_report(event_id=event_id, caller=caller)


def _checked_in_count(event_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(EventParticipant)
        .where(
            EventParticipant.event_id == event_id,
            EventParticipant.checked_in.is_(True),
            EventParticipant.status == ParticipationStatus.CONFIRMED,
        )
    )


def _check_plausible(event: Event, values: dict[str, Any]) -> None:
    """400 on each number above what the event's people could plausibly have done (``rules``)."""
    checked_in = _checked_in_count(event.id)
    errors = rules.implausible(
        values, people=checked_in, days=rules.days_spanned(event.start_date, event.end_date, server_tz())
    )
    stated = values.get("total_participants")
    if stated is not None and stated > max(event.max_participants, checked_in):
        errors["total_participants"] = [
            f"No máximo {max(event.max_participants, checked_in)} participantes (o limite de vagas do evento)."
        ]
    if errors:
        raise ValidationError(errors)


def create_report(*, event_id: int, caller: User, data: dict[str, Any]) -> EventReport:
    """File the report (organizing team, once, after the start); the statistics job runs after the commit."""
    event = _organized_event(event_id, caller)
    if event.status not in (EventStatus.PUBLISHED, EventStatus.COMPLETED):
        raise Conflict("Só eventos publicados ou concluídos podem ter relatório.")
    if utcnow() < event.start_date:
        raise Conflict("O relatório só pode ser registrado depois do início do evento.")
    if _report_of(event.id) is not None:
        raise Conflict("Este evento já tem relatório; use PUT ou PATCH para alterá-lo.")
    values = dict(data)
    _check_plausible(event, values)
    if values.get("total_participants") is None:
        values["total_participants"] = _checked_in_count(event.id)
    report = EventReport(event_id=event.id, created_by_id=caller.id, **values)
    db.session.add(report)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the organizer's other request filed it first
        db.session.rollback()
        raise Conflict("Este evento já tem relatório; use PUT ou PATCH para alterá-lo.") from exc
    jobs.request(STATISTICS_JOB, event_id=event.id)
    db.session.commit()
    return report


def update_report(*, event_id: int, caller: User, changes: dict[str, Any]) -> EventReport:
    """Change the report (organizing team); hours, counters and badges are computed again."""
    event = _organized_event(event_id, caller)
    report = db.session.scalar(
        sa.select(EventReport).where(EventReport.event_id == event.id).with_for_update(of=EventReport.__table__)
    )
    if report is None:
        raise NotFound("Este evento ainda não tem relatório.")
    _check_plausible(event, changes)
    for name, value in changes.items():
        if name == "total_participants" and value is None:
            value = _checked_in_count(event.id)
        setattr(report, name, value)
    jobs.request(STATISTICS_JOB, event_id=event.id)
    db.session.commit()
    return report


# --- badges ----------------------------------------------------------------------------------------------------


def get_all_badges() -> list[Badge]:
    return list(db.session.scalars(sa.select(Badge).order_by(Badge.id)))


def earned_badges(*, user_id: int) -> list[UserBadge]:
    return list(
        db.session.scalars(
            sa.select(UserBadge).where(UserBadge.user_id == user_id).order_by(UserBadge.earned_at, UserBadge.id)
        )
    )


# --- history and stats -----------------------------------------------------------------------------------------


def history_page(*, user: User, page: int, page_size: int) -> tuple[int, list[EventParticipant]]:
    """Every participation of the caller, the latest events first."""
    statement = (
        sa.select(EventParticipant)
        .join(Event, Event.id == EventParticipant.event_id)
        .where(EventParticipant.user_id == user.id)
        .order_by(Event.start_date.desc(), EventParticipant.id.desc())
        .options(contains_eager(EventParticipant.event))
    )
    return paginate(statement, page=page, page_size=page_size)


def public_history(user_id: int) -> list[EventParticipant]:
    """What a public profile shows: verified attendance at public events, the latest first."""
    return list(
        db.session.scalars(
            sa.select(EventParticipant)
            .join(Event, Event.id == EventParticipant.event_id)
            .where(EventParticipant.user_id == user_id, verified(), Event.is_public.is_(True))
            .order_by(Event.start_date.desc(), EventParticipant.id.desc())
            .options(contains_eager(EventParticipant.event))
            .limit(PUBLIC_HISTORY_LIMIT)
        )
    )


def public_profile(*, username: str) -> User:
    """A public profile with the badges (and, when the person allows it, the history) it shows; 404 otherwise."""
    user = profiles.get_public(username=username)
    user.badges = earned_badges(user_id=user.id)
    if user.show_participation_history:
        user.history = public_history(user.id)
    return user


def user_stats(*, user: User) -> dict[str, Any]:
    start, end = month_bounds(*current_month())
    badges = db.session.scalar(sa.select(sa.func.count()).select_from(UserBadge).where(UserBadge.user_id == user.id))
    organized = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(Event.organizer_id == user.id, Event.status.in_((EventStatus.PUBLISHED, EventStatus.COMPLETED)))
    )
    this_month = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(EventParticipant)
        .join(Event, Event.id == EventParticipant.event_id)
        .where(
            EventParticipant.user_id == user.id,
            EventParticipant.status == ParticipationStatus.CONFIRMED,
            Event.status != EventStatus.CANCELLED,
            Event.start_date >= start,
            Event.start_date < end,
        )
    )
    events = sa.func.count(EventParticipant.id)
    favorites = db.session.execute(
        sa.select(EventCategory.id, EventCategory.name, events.label("events"))
        .select_from(EventParticipant)
        .join(Event, Event.id == EventParticipant.event_id)
        .join(EventCategory, EventCategory.id == Event.category_id)
        .where(EventParticipant.user_id == user.id, verified())
        .group_by(EventCategory.id, EventCategory.name)
        .order_by(events.desc(), EventCategory.id)
        .limit(3)
    ).all()
    return {
        "total_events_participated": user.total_events_participated,
        "total_hours_volunteered": float(user.total_hours_volunteered),
        "badges_earned": badges,
        "events_organized": organized,
        "current_month_events": this_month,
        "favorite_categories": [{"id": r.id, "name": r.name, "events": r.events} for r in favorites],
    }


# --- leaderboard and rank --------------------------------------------------------------------------------------


def _totals(*, category: int | None, period: str):
    """Per user: verified hours and events under the filters (a subquery)."""
    conditions = [verified()]
    if category is not None:
        conditions.append(Event.category_id == category)
    if period == "month":
        start, end = month_bounds(*current_month())
        conditions += [Event.start_date >= start, Event.start_date < end]
    return (
        sa.select(
            EventParticipant.user_id.label("user_id"),
            sa.func.coalesce(sa.func.sum(EventParticipant.hours), 0.0).label("total_hours"),
            sa.func.count(EventParticipant.id).label("total_events"),
        )
        .join(Event, Event.id == EventParticipant.event_id)
        .where(*conditions)
        .group_by(EventParticipant.user_id)
        .subquery()
    )


def _require_category(category: int | None) -> None:
    if category is not None and db.session.get(EventCategory, category) is None:
        raise ValidationError({"category": ["Categoria inexistente."]})


def leaderboard(*, category: int | None = None, period: str = "all", limit: int = LEADERBOARD_LIMIT) -> list[dict]:
    """Public profiles ranked by verified hours (ties share a rank)."""
    _require_category(category)
    totals = _totals(category=category, period=period)
    hours = sa.func.round(sa.cast(totals.c.total_hours, sa.Numeric), 2)
    rank = sa.func.rank().over(order_by=hours.desc()).label("rank")
    rows = db.session.execute(
        sa.select(User, rank, totals.c.total_hours, totals.c.total_events)
        .join(totals, totals.c.user_id == User.id)
        .where(User.is_public_profile.is_(True), User.is_active.is_(True), totals.c.total_hours > 0)
        .order_by(hours.desc(), totals.c.total_events.desc(), User.username)
        .limit(limit)
    ).all()
    return [
        {"rank": r.rank, "user": r.User, "total_hours": round(float(r.total_hours), 2), "total_events": r.total_events}
        for r in rows
    ]


def rank(*, user: User, category: int | None = None, period: str = "all") -> dict[str, Any]:
    """Where the caller stands: 1 + the public profiles with more verified hours."""
    _require_category(category)
    totals = _totals(category=category, period=period)
    mine = db.session.execute(
        sa.select(totals.c.total_hours, totals.c.total_events).where(totals.c.user_id == user.id)
    ).first()
    hours = round(float(mine.total_hours), 2) if mine else 0.0
    events = mine.total_events if mine else 0
    ahead = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(totals)
        .join(User, User.id == totals.c.user_id)
        .where(
            User.is_public_profile.is_(True),
            User.is_active.is_(True),
            User.id != user.id,
            sa.func.round(sa.cast(totals.c.total_hours, sa.Numeric), 2) > hours,
        )
    )
    return {"rank": ahead + 1, "total_hours": hours, "total_events": events}


# --- impact numbers --------------------------------------------------------------------------------------------


def summary() -> dict[str, Any]:
    """Totals over completed events that have ended (an organizer may mark an event completed early; its numbers
    wait for its end)."""
    completed = sa.and_(Event.status == EventStatus.COMPLETED, ended())
    events_completed = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(completed))
    people = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(EventParticipant.user_id)),
            sa.func.coalesce(sa.func.sum(EventParticipant.hours), 0),
        )
        .join(Event, Event.id == EventParticipant.event_id)
        .where(completed, verified())
    ).one()
    numbers = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(EventReport.trash_collected_kg), 0),
            sa.func.coalesce(sa.func.sum(EventReport.recyclable_material_kg), 0),
            sa.func.coalesce(sa.func.sum(EventReport.trees_planted), 0),
            sa.func.coalesce(sa.func.sum(EventReport.area_cleaned_m2), 0),
        )
        .join(Event, Event.id == EventReport.event_id)
        .where(completed)
    ).one()
    return {
        "events_completed": events_completed,
        "volunteers": people[0],
        "volunteer_hours": round(float(people[1]), 2),
        "trash_collected_kg": round(float(numbers[0]), 2),
        "recyclable_material_kg": round(float(numbers[1]), 2),
        "trees_planted": int(numbers[2]),
        "area_cleaned_m2": round(float(numbers[3]), 2),
    }


def previous_month() -> tuple[int, int]:
    year, month = current_month()
    return (year - 1, 12) if month == 1 else (year, month - 1)


def get_monthly(*, year: int | None, month: int | None) -> MonthlyImpactReport:
    if year is None or month is None:
        default_year, default_month = previous_month()
        year, month = year or default_year, month or default_month
    report = db.session.scalar(
        sa.select(MonthlyImpactReport).where(MonthlyImpactReport.year == year, MonthlyImpactReport.month == month)
    )
    if report is None:
        raise NotFound("O relatório deste mês ainda não foi gerado.")
    return report
