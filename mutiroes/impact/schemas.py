"""Impact: what comes in and what goes out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mutiroes.events.schemas import EventListItemSchema
from mutiroes.impact import rules
from mutiroes.platform import images
from mutiroes.schemas import BaseSchema, Float, Integer, LocalDateTime, accepts_back, id_field, page_schema

PERIODS = ("all", "month")
MAX_PARTICIPANTS = 100_000  # the largest max_participants an event may have


# --- reports ---------------------------------------------------------------------------------------------------


class ReportSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    event = ma.fields.Integer(attribute="event_id", required=True)
    event_title = ma.fields.Function(lambda report: report.event.title, required=True)
    created_by = ma.fields.Integer(attribute="created_by_id", allow_none=True, required=True)
    created_by_name = ma.fields.Function(
        lambda report: report.created_by.full_name if report.created_by else None, allow_none=True, required=True
    )
    total_participants = ma.fields.Integer(required=True)
    total_hours = ma.fields.Float(allow_none=True, required=True)
    trash_collected_kg = ma.fields.Float(required=True)
    trees_planted = ma.fields.Integer(required=True)
    area_cleaned_m2 = ma.fields.Float(required=True)
    recyclable_material_kg = ma.fields.Float(required=True)
    summary = ma.fields.String(required=True)
    challenges = ma.fields.String(required=True)
    achievements = ma.fields.String(required=True)
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)


def _count(maximum: int, **kwargs) -> Integer:
    return Integer(
        validate=validate.Range(min=0, max=maximum, error="Informe um número entre {min} e {max}."),
        **kwargs,
    )


def _amount(maximum: float, **kwargs) -> Float:
    return Float(
        validate=validate.Range(min=0, max=maximum, error="Informe um número entre {min} e {max:.0f}."),
        **kwargs,
    )


def _plausible(field: str) -> dict:
    """The OpenAPI description of a number bounded per person and day of the event (``impact.rules``)."""
    return {
        "description": f"At most {rules.PER_PERSON_PER_DAY[field]:g} per person checked in (at least 1) per "
        f"calendar day of the event, and {rules.ABSOLUTE[field]:g} per event; more → 400 on the field."
    }


def _text(**kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=10000, error="Use no máximo {max} caracteres."), **kwargs)


def _report_fields(*, partial: bool) -> dict[str, ma.fields.Field]:
    def default(value):
        return {} if partial else {"load_default": value}

    return {
        "total_participants": _count(
            MAX_PARTICIPANTS,
            allow_none=True,
            metadata={
                "description": "People present; null or absent = the number checked in. At most the event's "
                "max_participants."
            },
            **default(None),
        ),
        "total_hours": _amount(
            rules.ABSOLUTE["total_hours"],
            allow_none=True,
            metadata={
                "description": "Volunteer-hours of the whole event (at most 12 per person checked in per calendar "
                "day of the event). Once the event has ended, each checked-in person is credited the time from "
                "check-in (or the start) to the end, at most 12 h per calendar day and 4 h for a check-in nobody "
                "vouched for (no code, not by the organizer), and never more than total_hours divided by the number "
                "checked in. Null or 0 = not stated."
            },
            **default(None),
        ),
        "trash_collected_kg": _amount(
            rules.ABSOLUTE["trash_collected_kg"], metadata=_plausible("trash_collected_kg"), **default(0.0)
        ),
        "trees_planted": _count(
            int(rules.ABSOLUTE["trees_planted"]), metadata=_plausible("trees_planted"), **default(0)
        ),
        "area_cleaned_m2": _amount(
            rules.ABSOLUTE["area_cleaned_m2"], metadata=_plausible("area_cleaned_m2"), **default(0.0)
        ),
        "recyclable_material_kg": _amount(
            rules.ABSOLUTE["recyclable_material_kg"], metadata=_plausible("recyclable_material_kg"), **default(0.0)
        ),
        "summary": _text(**default("")),
        "challenges": _text(**default("")),
        "achievements": _text(**default("")),
    }


ReportWriteSchema = accepts_back(ReportSchema)(
    type(
        "ReportWriteSchema",
        (BaseSchema,),
        {"__doc__": "A whole report (POST and PUT); numbers ≥ 0.", **_report_fields(partial=False)},
    )
)
ReportUpdateSchema = accepts_back(ReportSchema)(
    type(
        "ReportUpdateSchema",
        (BaseSchema,),
        {"__doc__": "Any subset of the report's fields (PATCH); numbers ≥ 0.", **_report_fields(partial=True)},
    )
)


# --- badges, history, ranking ----------------------------------------------------------------------------------


class BadgeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    icon = ma.fields.String(required=True)
    color = ma.fields.String(required=True)
    badge_type = ma.fields.String(required=True)
    min_events = ma.fields.Integer(required=True)
    min_hours = ma.fields.Float(required=True)
    category = ma.fields.Integer(
        attribute="category_id", allow_none=True, metadata={"description": "For category badges: the category id."}
    )


class EarnedBadgeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    badge = ma.fields.Nested(BadgeSchema, required=True)
    earned_at = LocalDateTime(required=True)


class HistoryItemSchema(ma.Schema):
    event = ma.fields.Nested(EventListItemSchema, required=True)
    status = ma.fields.String(required=True)
    checked_in = ma.fields.Boolean(required=True)
    check_in_time = LocalDateTime(allow_none=True, required=True)
    registered_at = LocalDateTime(required=True)
    hours = ma.fields.Function(
        lambda p: float(p.hours) if p.user.email_verified else 0.0,
        required=True,
        metadata={
            "type": "number",
            "description": "Verified hours: 0 until the event has ended and its report is filed, and while the "
            "account's email address is not verified.",
        },
    )


HistoryPageSchema = page_schema(HistoryItemSchema, "HistoryPage")


class RankingArgsSchema(BaseSchema):
    class Meta(BaseSchema.Meta):
        unknown = ma.EXCLUDE

    category = id_field(metadata={"description": "Only events of this category."})
    period = ma.fields.String(
        load_default="all",
        validate=validate.OneOf(PERIODS, error="Use month ou all."),
        metadata={"description": "month = events starting in the current month (server time zone)."},
    )


class LeaderboardArgsSchema(RankingArgsSchema):
    limit = Integer(
        load_default=50, validate=validate.Range(min=1, max=100, error="O limite deve estar entre {min} e {max}.")
    )


class LeaderboardEntrySchema(ma.Schema):
    rank = ma.fields.Integer(required=True)
    username = ma.fields.Function(lambda row: row["user"].username, required=True)
    first_name = ma.fields.Function(lambda row: row["user"].first_name, required=True)
    last_name = ma.fields.Function(lambda row: row["user"].last_name, required=True)
    avatar_url = ma.fields.Function(lambda row: images.absolute_url(row["user"].avatar), allow_none=True)
    city = ma.fields.Function(lambda row: row["user"].city, required=True)
    state = ma.fields.Function(lambda row: row["user"].state, required=True)
    total_hours = ma.fields.Float(required=True)
    total_events = ma.fields.Integer(required=True)


class RankSchema(ma.Schema):
    rank = ma.fields.Integer(required=True)
    total_hours = ma.fields.Float(required=True)
    total_events = ma.fields.Integer(required=True)


# --- impact numbers --------------------------------------------------------------------------------------------


class ImpactSummarySchema(ma.Schema):
    events_completed = ma.fields.Integer(required=True)
    volunteers = ma.fields.Integer(required=True)
    volunteer_hours = ma.fields.Float(required=True)
    trash_collected_kg = ma.fields.Float(required=True)
    recyclable_material_kg = ma.fields.Float(required=True)
    trees_planted = ma.fields.Integer(required=True)
    area_cleaned_m2 = ma.fields.Float(required=True)


class MonthlyArgsSchema(BaseSchema):
    class Meta(BaseSchema.Meta):
        unknown = ma.EXCLUDE

    year = Integer(validate=validate.Range(min=1900, max=2200, error="Informe um ano entre {min} e {max}."))
    month = Integer(validate=validate.Range(min=1, max=12, error="Informe um mês entre {min} e {max}."))


class CategoryImpactSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    events = ma.fields.Integer(required=True)
    participations = ma.fields.Integer(required=True)
    volunteer_hours = ma.fields.Float(required=True)


class MonthlyReportSchema(ma.Schema):
    year = ma.fields.Integer(required=True)
    month = ma.fields.Integer(required=True)
    generated_at = LocalDateTime(required=True)
    events_held = ma.fields.Function(lambda r: r.data["events_held"], required=True)
    events_with_report = ma.fields.Function(lambda r: r.data["events_with_report"], required=True)
    volunteers = ma.fields.Function(lambda r: r.data["volunteers"], required=True)
    participations = ma.fields.Function(lambda r: r.data["participations"], required=True)
    volunteer_hours = ma.fields.Function(lambda r: r.data["volunteer_hours"], required=True)
    trash_collected_kg = ma.fields.Function(lambda r: r.data["trash_collected_kg"], required=True)
    recyclable_material_kg = ma.fields.Function(lambda r: r.data["recyclable_material_kg"], required=True)
    trees_planted = ma.fields.Function(lambda r: r.data["trees_planted"], required=True)
    area_cleaned_m2 = ma.fields.Function(lambda r: r.data["area_cleaned_m2"], required=True)
    new_volunteers = ma.fields.Function(lambda r: r.data["new_volunteers"], required=True)
    categories = ma.fields.Function(lambda r: CategoryImpactSchema(many=True).dump(r.data["categories"]), required=True)


# --- certificates ----------------------------------------------------------------------------------------------


class CertificateSchema(ma.Schema):
    participation_id = ma.fields.Integer(required=True)
    event_title = ma.fields.String(required=True)
    date = ma.fields.Date(required=True, metadata={"description": "The event's day in the server time zone."})
    hours = ma.fields.Float(required=True, metadata={"description": "Verified hours of the participation."})
    code = ma.fields.String(required=True, metadata={"description": "GET /api/certificates/<code>/ checks it."})
    pdf_url = ma.fields.String(required=True)


class CertificateCheckSchema(ma.Schema):
    valid = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Whether the participation is still verified attendance with verified hours, of a "
            "verified account. The other fields are read now: hours follow a changed report."
        },
    )
    name = ma.fields.String(required=True)
    event_title = ma.fields.String(required=True)
    date = ma.fields.Date(required=True)
    hours = ma.fields.Float(required=True)
    organizer_name = ma.fields.String(required=True)


__all__ = [name for name in dir() if name.endswith("Schema")]
