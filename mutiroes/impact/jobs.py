"""Jobs of the impact domain: verified hours from a report, users' counters, badge awards, the monthly report.

Every job takes ids, reloads its state and recomputes (never increments), so a retry or a second run converges on
the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mutiroes import jobs
from mutiroes.events.models import Event, EventCategory, EventParticipant, EventStatus, ParticipationStatus
from mutiroes.impact import rules
from mutiroes.impact.models import Badge, BadgeType, EventReport, MonthlyImpactReport, UserBadge
from mutiroes.impact.service import STATISTICS_JOB, credited_organizing, ended, month_bounds, previous_month, verified
from mutiroes.models import db
from mutiroes.timeutil import server_tz, utcnow
from mutiroes.users.models import User

log = logging.getLogger(__name__)


@jobs.job(queue=jobs.DEFAULT, timeout=600)
def process_event_report_statistics(event_id: int) -> dict[str, Any]:
    """Store the hours each participation of the event earned, then refresh the people concerned.

    Hours are credited only once the event has ended: run earlier (a report filed during the event), it stores none
    and asks to run again at the end. Each checked-in participation earns what ``rules.participation_hours`` allows
    (time from check-in to end, 12 h per calendar day, 4 h when nobody vouched for the check-in), and never more
    than an equal share of the report's stated ``total_hours``.
    """
    event = db.session.get(Event, event_id)
    report = db.session.scalar(sa.select(EventReport).where(EventReport.event_id == event_id))
    if event is None or report is None:
        log.info("report statistics for event %s skipped: event or report gone", event_id)
        return {"skipped": True}
    now = utcnow()
    over = event.end_date <= now
    attended = sa.and_(EventParticipant.checked_in.is_(True), EventParticipant.status == ParticipationStatus.CONFIRMED)
    rows = db.session.execute(
        sa.select(EventParticipant.id, EventParticipant.check_in_time, EventParticipant.check_in_method).where(
            EventParticipant.event_id == event.id, attended
        )
    ).all()
    earned: dict[int, float] = {}
    if over and event.status != EventStatus.CANCELLED:
        share = report.total_hours / len(rows) if report.total_hours and rows else None
        tz = server_tz()
        for pid, check_in_time, method in rows:
            earned[pid] = rules.participation_hours(
                start=event.start_date,
                end=event.end_date,
                check_in_time=check_in_time,
                method=method,
                tz=tz,
                share=share,
            )
    # everyone whose numbers may change: those checked in, and those who had hours before (a changed report)
    concerned = list(
        db.session.scalars(
            sa.select(EventParticipant.user_id).where(
                EventParticipant.event_id == event.id, sa.or_(attended, EventParticipant.hours != 0)
            )
        )
    )
    # every attended row is in ``earned`` when anything is; the others (absent, cancelled...) earn nothing
    db.session.execute(
        sa.update(EventParticipant)
        .where(EventParticipant.event_id == event.id, sa.not_(attended) if earned else sa.true())
        .values(hours=0.0)
        .execution_options(synchronize_session=False)
    )
    if earned:
        table = EventParticipant.__table__
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("pid")).values(hours=sa.bindparam("earned")),
            [{"pid": pid, "earned": hours} for pid, hours in earned.items()],
        )
    report.hours_credited_at = now if over else None
    if not over and event.status != EventStatus.CANCELLED:
        # a delayed job is the quick path; the clean-up's credit_ended_reports is the one that cannot be lost
        jobs.request_at(event.end_date, STATISTICS_JOB, event_id=event.id)
    for user_id in concerned:
        jobs.request("update_user_statistics", user_id=user_id)
    jobs.request("check_and_award_badges", user_id=event.organizer_id)
    db.session.commit()
    return {
        "ended": over,
        "checked_in": len(rows),
        "hours": round(sum(earned.values()), 2),
        "users": len(concerned),
    }


def credit_ended_reports(now: dt.datetime) -> int:
    """Clean-up step: ask for the statistics of every ended event whose report's hours were not credited since it
    ended (filed before the end, and the delayed job was lost; or the end moved after the credit)."""
    event_ids = list(
        db.session.scalars(
            sa.select(EventReport.event_id)
            .join(Event, Event.id == EventReport.event_id)
            .where(
                Event.end_date <= now,
                sa.or_(EventReport.hours_credited_at.is_(None), EventReport.hours_credited_at < Event.end_date),
            )
            .order_by(EventReport.event_id)
        )
    )
    for event_id in event_ids:
        jobs.request(STATISTICS_JOB, event_id=event_id)
    return len(event_ids)


@jobs.job(queue=jobs.DEFAULT, timeout=120)
def update_user_statistics(user_id: int) -> dict[str, Any]:
    """Recompute the user's counters from credited attendance (one statement: nothing for an unverified account),
    then check their badges."""
    if db.session.get(User, user_id) is None:
        return {"skipped": True}
    mine = sa.and_(EventParticipant.user_id == user_id, verified())
    events = (
        sa.select(sa.func.count(EventParticipant.id))
        .join(Event, Event.id == EventParticipant.event_id)
        .where(mine)
        .scalar_subquery()
    )
    hours = (
        sa.select(sa.func.coalesce(sa.func.sum(EventParticipant.hours), 0.0))
        .join(Event, Event.id == EventParticipant.event_id)
        .where(mine)
        .scalar_subquery()
    )
    db.session.execute(
        sa.update(User)
        .where(User.id == user_id)
        .values(total_events_participated=events, total_hours_volunteered=sa.func.round(sa.cast(hours, sa.Numeric), 2))
        .execution_options(synchronize_session=False)
    )
    jobs.request("check_and_award_badges", user_id=user_id)
    db.session.commit()
    user = db.session.get(User, user_id, populate_existing=True)
    return {"events": user.total_events_participated, "hours": user.total_hours_volunteered}


def _metrics(user_id: int) -> dict[str, Any]:
    rows = db.session.execute(
        sa.select(Event.category_id, sa.func.count(EventParticipant.id), sa.func.sum(EventParticipant.hours))
        .join(Event, Event.id == EventParticipant.event_id)
        .where(EventParticipant.user_id == user_id, verified())
        .group_by(Event.category_id)
    ).all()
    per_category = {category_id: count for category_id, count, _hours in rows}
    has_report = sa.exists().where(EventReport.event_id == Event.id)
    organized = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(
            Event.organizer_id == user_id,
            credited_organizing(),
            sa.or_(Event.status == EventStatus.COMPLETED, has_report),
        )
    )
    reports = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(EventReport)
        .join(Event, Event.id == EventReport.event_id)
        .where(EventReport.created_by_id == user_id, credited_organizing())
    )
    return {
        "events": sum(per_category.values()),
        "hours": round(sum(float(h or 0) for _c, _n, h in rows), 2),
        "per_category": per_category,
        "organized": organized,
        "reports": reports,
    }


def _earned(badge: Badge, metrics: dict[str, Any]) -> bool:
    if badge.badge_type == BadgeType.PARTICIPATION:
        return metrics["events"] >= badge.min_events
    if badge.badge_type == BadgeType.HOURS:
        return metrics["hours"] >= badge.min_hours
    if badge.badge_type == BadgeType.ORGANIZER:
        return metrics["organized"] >= max(badge.min_events, 1)
    if badge.badge_type == BadgeType.REPORT:
        return metrics["reports"] >= max(badge.min_events, 1)
    if badge.badge_type == BadgeType.CATEGORY:
        return metrics["per_category"].get(badge.category_id, 0) >= max(badge.min_events, 1)
    return False


@jobs.job(queue=jobs.DEFAULT, timeout=120)
def check_and_award_badges(user_id: int) -> list[str]:
    """Award every badge whose rule the user now meets; returns the codes awarded by this run.

    Awards are never taken back (a later, smaller report leaves earned badges alone). UNIQUE (user, badge) and
    ON CONFLICT DO NOTHING make concurrent or repeated runs award each badge once. Only verified, active accounts
    earn badges; verifying the address runs this job again.
    """
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or not user.email_verified:
        db.session.rollback()
        return []
    metrics = _metrics(user_id)
    eligible = [badge for badge in db.session.scalars(sa.select(Badge).order_by(Badge.id)) if _earned(badge, metrics)]
    if not eligible:
        db.session.rollback()
        return []
    insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert
    now = utcnow()
    awarded = set(
        db.session.scalars(
            insert(UserBadge)
            .values([{"user_id": user_id, "badge_id": badge.id, "earned_at": now} for badge in eligible])
            .on_conflict_do_nothing(index_elements=["user_id", "badge_id"])
            .returning(UserBadge.badge_id)
        )
    )
    db.session.commit()
    return [badge.code for badge in eligible if badge.id in awarded]


@jobs.job(queue=jobs.PERIODIC, timeout=900)
def generate_monthly_impact_report(year: int | None = None, month: int | None = None) -> dict[str, Any]:
    """Compute and store (replacing any earlier run) the impact of one month; no arguments = the previous month in
    MUTIROES_TIME_ZONE. Events count in the month they start in."""
    if year is None or month is None:
        year, month = previous_month()
    if not (1 <= int(month) <= 12) or not (1900 <= int(year) <= 2200):
        raise ValueError(f"invalid month {year}-{month}")
    year, month = int(year), int(month)
    start, end = month_bounds(year, month)
    held = sa.and_(
        Event.start_date >= start,
        Event.start_date < end,
        Event.status.in_((EventStatus.PUBLISHED, EventStatus.COMPLETED)),
    )
    events_held = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(held))
    people = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(EventParticipant.user_id)),
            sa.func.count(EventParticipant.id),
            sa.func.coalesce(sa.func.sum(EventParticipant.hours), 0),
        )
        .join(Event, Event.id == EventParticipant.event_id)
        .where(held, verified())
    ).one()
    # a report's numbers count once its event has ended (a report may be filed, and changed, while it runs)
    numbers = db.session.execute(
        sa.select(
            sa.func.count(EventReport.id),
            sa.func.coalesce(sa.func.sum(EventReport.trash_collected_kg), 0),
            sa.func.coalesce(sa.func.sum(EventReport.recyclable_material_kg), 0),
            sa.func.coalesce(sa.func.sum(EventReport.trees_planted), 0),
            sa.func.coalesce(sa.func.sum(EventReport.area_cleaned_m2), 0),
        )
        .join(Event, Event.id == EventReport.event_id)
        .where(held, ended())
    ).one()
    new_volunteers = db.session.scalar(
        sa.select(sa.func.count()).select_from(User).where(User.date_joined >= start, User.date_joined < end)
    )
    hours = sa.func.coalesce(sa.func.sum(EventParticipant.hours), 0)
    by_category = db.session.execute(
        sa.select(
            EventCategory.id,
            EventCategory.name,
            sa.func.count(sa.distinct(Event.id)),
            sa.func.count(EventParticipant.id),
            hours,
        )
        .select_from(Event)
        .join(EventCategory, EventCategory.id == Event.category_id)
        .outerjoin(EventParticipant, sa.and_(EventParticipant.event_id == Event.id, verified()))
        .where(held)
        .group_by(EventCategory.id, EventCategory.name)
        .order_by(EventCategory.id)
    ).all()
    data = {
        "events_held": events_held,
        "events_with_report": numbers[0],
        "volunteers": people[0],
        "participations": people[1],
        "volunteer_hours": round(float(people[2]), 2),
        "trash_collected_kg": round(float(numbers[1]), 2),
        "recyclable_material_kg": round(float(numbers[2]), 2),
        "trees_planted": int(numbers[3]),
        "area_cleaned_m2": round(float(numbers[4]), 2),
        "new_volunteers": new_volunteers,
        "categories": [
            {"id": c, "name": name, "events": n, "participations": p, "volunteer_hours": round(float(h), 2)}
            for c, name, n, p, h in by_category
        ],
    }
    insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert
    statement = insert(MonthlyImpactReport).values(year=year, month=month, data=data, generated_at=utcnow())
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["year", "month"],
            set_={"data": statement.excluded.data, "generated_at": statement.excluded.generated_at},
        )
    )
    db.session.commit()
    return {"year": year, "month": month, **data}
