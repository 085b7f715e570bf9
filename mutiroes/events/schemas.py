"""Events: what comes in and what goes out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mutiroes.content.schemas import CommentSchema, PhotoSchema, ResourceSchema
from mutiroes.events.models import EventStatus, ExperienceLevel, MessageAudience, ParticipationStatus
from mutiroes.platform import images
from mutiroes.schemas import (
    BRAZILIAN_STATES,
    MAX_ID,
    PHONE_RE,
    BaseSchema,
    DateOrDateTime,
    Float,
    Integer,
    LocalDateTime,
    PaginationArgsSchema,
    accepts_back,
    id_field,
    page_schema,
)

ORDERINGS = ("start_date", "-start_date", "created_at", "-created_at", "participants_count", "-participants_count")
FREQUENCIES = ("weekly", "biweekly", "monthly")
MAX_REPEAT_COUNT = 52
MAX_RADIUS_KM = 500
MAX_NEARBY_LIMIT = 200


class CategorySchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    description = ma.fields.String()
    icon = ma.fields.String()
    color = ma.fields.String()


# --- out -------------------------------------------------------------------------------------------------------


class EventListItemSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    category = ma.fields.Nested(CategorySchema, required=True)
    organizer_id = ma.fields.Integer(required=True)
    organizer_name = ma.fields.Function(lambda event: event.organizer.full_name, required=True)
    address = ma.fields.String(required=True)
    city = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    latitude = ma.fields.Float(required=True)
    longitude = ma.fields.Float(required=True)
    start_date = LocalDateTime(required=True)
    end_date = LocalDateTime(required=True)
    max_participants = ma.fields.Integer(required=True)
    participants_count = ma.fields.Integer(attribute="confirmed_count", required=True)
    available_spots = ma.fields.Function(lambda event: event.available_spots(), required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(EventStatus)})
    is_active = ma.fields.Function(lambda event: event.is_active(), required=True)
    is_registration_open = ma.fields.Function(lambda event: event.is_registration_open(), required=True)
    cover_image_url = ma.fields.Function(lambda event: images.absolute_url(event.cover_image), allow_none=True)
    series_id = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Shared by the events of one series (`repeat`); null for a one-off event."},
    )
    created_at = LocalDateTime(required=True)


class NearbyEventSchema(EventListItemSchema):
    distance_km = ma.fields.Float(required=True)


class ParticipantSummarySchema(ma.Schema):
    """What anyone who may see the event learns about its participants."""

    id = ma.fields.Integer(required=True)
    user_name = ma.fields.Function(lambda p: p.user.full_name, required=True)
    user_avatar = ma.fields.Function(lambda p: images.absolute_url(p.user.avatar), allow_none=True)
    status = ma.fields.String(required=True)
    checked_in = ma.fields.Boolean(required=True)


class CoOrganizerSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    name = ma.fields.Function(lambda user: user.full_name, required=True)
    avatar = ma.fields.Function(lambda user: images.absolute_url(user.avatar), allow_none=True, required=True)


class EventDetailSchema(EventListItemSchema):
    organizer = ma.fields.Function(lambda event: event.organizer.username, required=True)
    co_organizers = ma.fields.List(
        ma.fields.Nested(CoOrganizerSchema),
        required=True,
        metadata={"description": "They may do everything the organizer does but delete the event or change them."},
    )
    user_participating = ma.fields.Boolean(required=True)
    organizer_avatar = ma.fields.Function(lambda event: images.absolute_url(event.organizer.avatar), allow_none=True)
    registration_deadline = LocalDateTime(required=True)
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)
    is_public = ma.fields.Boolean(required=True)
    requires_approval = ma.fields.Boolean(required=True)
    waitlist_enabled = ma.fields.Boolean(required=True)
    require_check_in_code = ma.fields.Boolean(required=True)
    waitlist_count = ma.fields.Integer(required=True)
    required_tools = ma.fields.String(required=True)
    provided_tools = ma.fields.String(required=True)
    what_to_bring = ma.fields.String(required=True)
    resources = ma.fields.List(
        ma.fields.Nested(ResourceSchema), required=True, metadata={"description": "Up to 100, in creation order."}
    )
    photos = ma.fields.List(
        ma.fields.Nested(PhotoSchema), required=True, metadata={"description": "The 20 newest (see /photos/)."}
    )
    comments = ma.fields.List(
        ma.fields.Nested(CommentSchema),
        required=True,
        metadata={"description": "The 20 newest top-level comments with their replies (see /comments/)."},
    )
    participants = ma.fields.List(
        ma.fields.Nested(ParticipantSummarySchema),
        required=True,
        metadata={"description": "Pending, confirmed and waitlisted participants (first 100 by registration)."},
    )
    check_in_code = ma.fields.String(metadata={"description": "Only for the organizer (and staff)."})
    updated_at = LocalDateTime(required=True)

    @ma.post_dump(pass_original=True)
    def hide_organizer_fields(self, data, original, **_kwargs):
        if not getattr(original, "show_check_in_code", False):
            data.pop("check_in_code", None)
        return data


EventPageSchema = page_schema(EventListItemSchema, "EventPage")


class ParticipationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    event = ma.fields.Integer(attribute="event_id", required=True)
    user_id = ma.fields.Integer(required=True)
    user_name = ma.fields.Function(lambda p: p.user.full_name, required=True)
    user_avatar = ma.fields.Function(lambda p: images.absolute_url(p.user.avatar), allow_none=True)
    status = ma.fields.String(required=True)
    waitlist_position = ma.fields.Integer(allow_none=True, required=True)
    emergency_contact = ma.fields.String(required=True)
    emergency_phone = ma.fields.String(required=True)
    special_needs = ma.fields.String(required=True)
    experience_level = ma.fields.String(required=True)
    checked_in = ma.fields.Boolean(required=True)
    check_in_time = LocalDateTime(allow_none=True, required=True)
    registered_at = LocalDateTime(required=True)


ParticipationPageSchema = page_schema(ParticipationSchema, "ParticipationPage")


class EventStatsSchema(ma.Schema):
    total_participants = ma.fields.Integer(required=True)
    confirmed_participants = ma.fields.Integer(required=True)
    pending_participants = ma.fields.Integer(required=True)
    waitlisted_participants = ma.fields.Integer(required=True)
    checked_in_participants = ma.fields.Integer(required=True)
    available_spots = ma.fields.Integer(required=True)
    photos_count = ma.fields.Integer(required=True)
    comments_count = ma.fields.Integer(required=True)
    resources_count = ma.fields.Integer(required=True)
    fully_provided_resources = ma.fields.Integer(required=True)


class MyEventsSchema(ma.Schema):
    organized = ma.fields.List(ma.fields.Nested(EventListItemSchema), required=True)
    participating = ma.fields.List(ma.fields.Nested(EventListItemSchema), required=True)


# --- in --------------------------------------------------------------------------------------------------------


def _text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length, error="Use no máximo {max} caracteres."), **kwargs)


def _latitude(**kwargs):
    return Float(validate=validate.Range(min=-90, max=90, error="A latitude deve estar entre -90 e 90."), **kwargs)


def _longitude(**kwargs):
    return Float(validate=validate.Range(min=-180, max=180, error="A longitude deve estar entre -180 e 180."), **kwargs)


def _radius(**kwargs):
    return Float(
        validate=validate.Range(
            min=0, max=MAX_RADIUS_KM, min_inclusive=False, error="O raio deve ser maior que 0 e no máximo {max} km."
        ),
        **kwargs,
    )


class CategoryRef(Integer):
    """A category id; the category object as event-detail shows it (``{"id": 1, "name": ...}``) is read as its id,
    so an event sent back as the API answered it keeps its category."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict) and "id" in value:
            value = value["id"]
        return super()._deserialize(value, attr, data, **kwargs)


def _category(**kwargs) -> CategoryRef:
    return CategoryRef(validate=validate.Range(min=1, max=MAX_ID, error="Informe um id válido."), **kwargs)


def _event_fields(*, partial: bool) -> dict[str, ma.fields.Field]:
    """The writable event fields; ``partial`` drops every requirement and default (PATCH)."""

    def required(**kwargs):
        return {} if partial else {"required": True, **kwargs}

    def default(value):
        return {} if partial else {"load_default": value}

    return {
        "title": ma.fields.String(
            validate=validate.Length(min=1, max=200, error="Use de {min} a {max} caracteres."), **required()
        ),
        "description": _text(10000, **default("")),
        "category": _category(**required()),
        "address": _text(255, **required()),
        "latitude": _latitude(**required()),
        "longitude": _longitude(**required()),
        "city": _text(100, **required()),
        "state": ma.fields.String(
            validate=validate.OneOf(BRAZILIAN_STATES, error="Informe a sigla de um estado brasileiro."), **required()
        ),
        "start_date": LocalDateTime(**required()),
        "end_date": LocalDateTime(**required()),
        "registration_deadline": LocalDateTime(
            allow_none=True, metadata={"description": "Optional; defaults to start_date."}
        ),
        "max_participants": Integer(
            validate=validate.Range(min=1, max=100000, error="Informe um número entre {min} e {max}."),
            **required(),
        ),
        "min_age": Integer(
            allow_none=True, validate=validate.Range(min=0, max=120, error="Idade entre {min} e {max}.")
        ),
        "max_age": Integer(
            allow_none=True, validate=validate.Range(min=0, max=120, error="Idade entre {min} e {max}.")
        ),
        "status": ma.fields.String(
            validate=validate.OneOf(tuple(EventStatus), error="Status inválido."), **default(EventStatus.PUBLISHED)
        ),
        "is_public": ma.fields.Boolean(**default(True)),
        "requires_approval": ma.fields.Boolean(**default(False)),
        "waitlist_enabled": ma.fields.Boolean(**default(True)),
        "require_check_in_code": ma.fields.Boolean(**default(False)),
        "required_tools": _text(5000, **default("")),
        "provided_tools": _text(5000, **default("")),
        "what_to_bring": _text(5000, **default("")),
    }


class _EventWriteSchema(BaseSchema):
    @ma.pre_load
    def upper_state(self, data, **_kwargs):
        if isinstance(data, dict) and isinstance(data.get("state"), str):
            data = {**data, "state": data["state"].strip().upper()}
        return data


EventCreateSchema = accepts_back(EventDetailSchema)(
    type(
        "EventCreateSchema",
        (_EventWriteSchema,),
        {"__doc__": "Every field of a new event (also the body of PUT).", **_event_fields(partial=False)},
    )
)
EventUpdateSchema = accepts_back(EventDetailSchema)(
    type(
        "EventUpdateSchema",
        (_EventWriteSchema,),
        {"__doc__": "Any subset of the writable event fields (PATCH).", **_event_fields(partial=True)},
    )
)


class _CoordinatesMixin:
    @ma.validates_schema
    def coordinates_together(self, data, **_kwargs):
        has_lat, has_lng = "latitude" in data, "longitude" in data
        if has_lat != has_lng:
            missing = "longitude" if has_lat else "latitude"
            raise ma.ValidationError("Informe latitude e longitude juntas.", missing)
        if "radius" in data and not has_lat:
            raise ma.ValidationError("O raio exige latitude e longitude.", "radius")


class EventQueryArgsSchema(_CoordinatesMixin, PaginationArgsSchema):
    category = id_field()
    status = ma.fields.String(validate=validate.OneOf(tuple(EventStatus), error="Status inválido."))
    city = ma.fields.String(validate=validate.Length(max=100))
    state = ma.fields.String(validate=validate.Length(max=2))
    is_public = ma.fields.Boolean()
    search = ma.fields.String(validate=validate.Length(max=200, error="Busca longa demais."))
    start_date = DateOrDateTime(metadata={"description": "Events starting at or after this date/datetime."})
    end_date = DateOrDateTime(end_of_day=True, metadata={"description": "Events starting at or before this."})
    latitude = _latitude()
    longitude = _longitude()
    radius = _radius(metadata={"description": "km; default 10 when latitude and longitude are given."})
    organizer = id_field()
    series = id_field(metadata={"description": "The events of one series (their `series_id`)."})
    ordering = ma.fields.String(
        load_default="-created_at",
        validate=validate.OneOf(ORDERINGS, error="Ordenação inválida. Use uma de: {choices}."),
    )


class NearbyArgsSchema(_CoordinatesMixin, BaseSchema):
    class Meta(BaseSchema.Meta):
        unknown = ma.EXCLUDE

    latitude = _latitude(required=True)
    longitude = _longitude(required=True)
    radius = _radius(load_default=10.0)
    limit = Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_NEARBY_LIMIT, error="O limite deve estar entre {min} e {max}."),
    )


class _EmergencyFieldsMixin:
    emergency_contact = _text(200)
    emergency_phone = ma.fields.String(
        validate=validate.Regexp(r"^$|" + PHONE_RE.pattern, error="Informe um telefone válido.")
    )
    special_needs = _text(2000)
    experience_level = ma.fields.String(validate=validate.OneOf(tuple(ExperienceLevel), error="Nível inválido."))


class JoinSchema(_EmergencyFieldsMixin, BaseSchema):
    """Optional details of a participation."""


class CheckInSchema(BaseSchema):
    code = ma.fields.String(validate=validate.Length(max=50), metadata={"description": "The event's check-in code."})
    user_id = id_field(metadata={"description": "Organizer only: the confirmed participant to check in."})


@accepts_back(ParticipationSchema)
class ParticipationUpdateSchema(_EmergencyFieldsMixin, BaseSchema):
    """The organizer sets ``status`` (to ``confirmed`` or ``rejected``; the participation's current status, as sent
    back with the rest of it, changes nothing); the participant sets the emergency fields."""

    status = ma.fields.String(validate=validate.OneOf(tuple(ParticipationStatus), error="Status inválido."))


class ParticipantsArgsSchema(PaginationArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(tuple(ParticipationStatus), error="Status inválido."))


# --- organizing together ---------------------------------------------------------------------------------------


class CoOrganizerCreateSchema(BaseSchema):
    user_id = id_field(required=True, metadata={"description": "The person who joins the organization."})


class RepeatSchema(BaseSchema):
    frequency = ma.fields.String(
        required=True, validate=validate.OneOf(FREQUENCIES, error="Use weekly, biweekly ou monthly.")
    )
    count = Integer(
        required=True,
        validate=validate.Range(min=1, max=MAX_REPEAT_COUNT, error="Informe um número entre {min} e {max}."),
        metadata={"description": "How many copies, at the next dates of the rhythm."},
    )


class MessageSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    subject = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    audience = ma.fields.String(required=True, metadata={"enum": list(MessageAudience)})
    sent_by_name = ma.fields.Function(
        lambda message: message.sent_by.full_name if message.sent_by is not None else "", required=True
    )
    recipients_count = ma.fields.Integer(required=True)
    created_at = LocalDateTime(required=True)


MessagePageSchema = page_schema(MessageSchema, "EventMessagePage")


class MessageCreateSchema(BaseSchema):
    subject = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=150, error="Use de {min} a {max} caracteres.")
    )
    body = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=5000, error="Use de {min} a {max} caracteres.")
    )
    audience = ma.fields.String(
        load_default=MessageAudience.CONFIRMED,
        validate=validate.OneOf(tuple(MessageAudience), error="Use confirmed ou all."),
        metadata={"description": "`confirmed`, or `all` = confirmed + pending + waitlisted. Default `confirmed`."},
    )

    @ma.validates("subject")
    def subject_not_blank(self, value, **_kwargs):
        if not value.strip():
            raise ma.ValidationError("O assunto não pode estar em branco.")

    @ma.validates("body")
    def body_not_blank(self, value, **_kwargs):
        if not value.strip():
            raise ma.ValidationError("A mensagem não pode estar em branco.")


class MessageArgsSchema(PaginationArgsSchema):
    pass


class CalendarFeedSchema(ma.Schema):
    url = ma.fields.String(
        required=True, metadata={"description": "The secret feed: whoever has it reads the caller's events."}
    )
