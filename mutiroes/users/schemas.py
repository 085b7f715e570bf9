"""Users: what comes in and what goes out."""

from __future__ import annotations

import re

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from mutiroes import timeutil
from mutiroes.platform import images
from mutiroes.schemas import BRAZILIAN_STATES, PHONE_RE, BaseSchema, List, LocalDateTime, accepts_back, id_field

# no "@": whatever a login form receives with an "@" is an e-mail (login matches e-mails first)
USERNAME_RE = re.compile(r"^[\w.+-]+\Z")
ZIP_RE = re.compile(r"^\d{5}-?\d{3}\Z")
MAX_INTERESTS = 50


class RegisterSchema(BaseSchema):
    username = ma.fields.String(
        required=True,
        validate=[
            validate.Length(min=3, max=150, error="Use de {min} a {max} caracteres."),
            validate.Regexp(USERNAME_RE, error="Use apenas letras, números e os caracteres . + - _ (sem @)."),
        ],
    )
    email = ma.fields.Email(required=True, validate=validate.Length(max=254, error="E-mail longo demais."))
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(max=128, error="Senha longa demais.")
    )
    password_confirm = ma.fields.String(required=True, load_only=True)
    first_name = ma.fields.String(load_default="", validate=validate.Length(max=150))
    last_name = ma.fields.String(load_default="", validate=validate.Length(max=150))

    @ma.validates_schema
    def passwords_match(self, data, **_kwargs):
        if "password" in data and "password_confirm" in data and data["password"] != data["password_confirm"]:
            raise ma.ValidationError("As senhas não conferem.", "password_confirm")


class UserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String(dump_only=True)
    email = ma.fields.String(dump_only=True)
    first_name = ma.fields.String(dump_only=True)
    last_name = ma.fields.String(dump_only=True)
    date_joined = LocalDateTime(dump_only=True)
    email_verified = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "Hours, badges and ranking places are credited only once this is true."},
    )


class TokenRequestSchema(BaseSchema):
    email = ma.fields.String(validate=validate.Length(min=1, max=254))
    username = ma.fields.String(validate=validate.Length(min=1, max=150))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=128))

    @ma.validates_schema
    def one_identifier(self, data, **_kwargs):
        if not data.get("email") and not data.get("username"):
            raise ma.ValidationError("Informe o e-mail ou o nome de usuário.", "email")


class TokenPairSchema(ma.Schema):
    access = ma.fields.String(required=True)
    refresh = ma.fields.String(required=True)


class RefreshRequestSchema(BaseSchema):
    refresh = ma.fields.String(required=True, validate=validate.Length(min=1, max=4096))


class NotificationPreferencesSchema(BaseSchema):
    event_updates = ma.fields.Boolean()
    event_reminders = ma.fields.Boolean()
    new_events_nearby = ma.fields.Boolean()
    newsletter = ma.fields.Boolean()


class ProfileSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    user = ma.fields.Function(lambda user: UserSchema().dump(user), dump_only=True)
    phone = ma.fields.String()
    birth_date = ma.fields.Date(allow_none=True)
    bio = ma.fields.String()
    avatar_url = ma.fields.Function(lambda user: images.absolute_url(user.avatar), dump_only=True)
    age = ma.fields.Function(lambda user: user.age_on(timeutil.local_today()), dump_only=True)
    city = ma.fields.String()
    state = ma.fields.String()
    zip_code = ma.fields.String()
    interests = ma.fields.List(ma.fields.Integer())
    notification_preferences = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean())
    is_public_profile = ma.fields.Boolean()
    show_participation_history = ma.fields.Boolean()
    total_events_participated = ma.fields.Integer(dump_only=True)
    total_hours_volunteered = ma.fields.Float(dump_only=True)
    created_at = LocalDateTime(dump_only=True)
    updated_at = LocalDateTime(dump_only=True)


@accepts_back(ProfileSchema)
class ProfileUpdateSchema(BaseSchema):
    """Writable profile fields; counters, ids, e-mail and staff flags are not among them."""

    first_name = ma.fields.String(validate=validate.Length(max=150))
    last_name = ma.fields.String(validate=validate.Length(max=150))
    phone = ma.fields.String(validate=validate.Regexp(r"^$|" + PHONE_RE.pattern, error="Informe um telefone válido."))
    birth_date = ma.fields.Date(allow_none=True)
    bio = ma.fields.String(validate=validate.Length(max=2000, error="Use no máximo {max} caracteres."))
    city = ma.fields.String(validate=validate.Length(max=100))
    state = ma.fields.String(
        validate=validate.OneOf(["", *BRAZILIAN_STATES], error="Informe a sigla de um estado brasileiro.")
    )
    zip_code = ma.fields.String(validate=validate.Regexp(r"^$|" + ZIP_RE.pattern, error="Informe um CEP válido."))
    interests = List(id_field(), max_length=MAX_INTERESTS)
    notification_preferences = ma.fields.Nested(NotificationPreferencesSchema)
    is_public_profile = ma.fields.Boolean()
    show_participation_history = ma.fields.Boolean()

    @ma.validates("birth_date")
    def plausible_birth_date(self, value, **_kwargs):
        if value is None:
            return
        today = timeutil.local_today()
        if value > today:
            raise ma.ValidationError("A data de nascimento não pode estar no futuro.")
        if value.year < today.year - 120:
            raise ma.ValidationError("Informe uma data de nascimento válida.")

    @ma.pre_load
    def upper_state(self, data, **_kwargs):
        if isinstance(data, dict) and isinstance(data.get("state"), str):
            data = {**data, "state": data["state"].strip().upper()}
        return data


class PublicProfileSchema(ma.Schema):
    username = ma.fields.String()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    bio = ma.fields.String()
    avatar_url = ma.fields.Function(lambda user: images.absolute_url(user.avatar))
    city = ma.fields.String()
    state = ma.fields.String()
    total_events_participated = ma.fields.Integer()
    total_hours_volunteered = ma.fields.Float()
    # by class name: the impact schemas build on the events schemas, which build on these
    badges = ma.fields.List(ma.fields.Nested("EarnedBadgeSchema"), dump_default=list)
    history = ma.fields.List(
        ma.fields.Nested("HistoryItemSchema"),
        metadata={
            "description": "Verified attendance at public events (latest 20); only with show_participation_history."
        },
    )


class AvatarUploadSchema(BaseSchema):
    avatar = Upload(required=True, metadata={"description": "JPEG, PNG ou WebP, até 10 MB e 40 megapixels."})


class ChangePasswordSchema(BaseSchema):
    old_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=128))
    new_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class UserStatsSchema(ma.Schema):
    total_events_participated = ma.fields.Integer()
    total_hours_volunteered = ma.fields.Float()
    badges_earned = ma.fields.Integer()
    events_organized = ma.fields.Integer()
    current_month_events = ma.fields.Integer()
    favorite_categories = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Up to 3 `{id, name, events}`, by verified events."}
    )


# --- account recovery, verification, privacy --------------------------------------------------------------------


def _token_field() -> ma.fields.String:
    return ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=200, error="Link inválido."),
        metadata={"description": "The `token` parameter of the emailed link."},
    )


class PasswordResetRequestSchema(BaseSchema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254, error="E-mail longo demais."))


class PasswordResetConfirmSchema(BaseSchema):
    token = _token_field()
    new_password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(max=128, error="Senha longa demais.")
    )
    new_password_confirm = ma.fields.String(required=True, load_only=True)

    @ma.validates_schema
    def passwords_match(self, data, **_kwargs):
        if data.get("new_password") is not None and data.get("new_password_confirm") not in (
            None,
            data["new_password"],
        ):
            raise ma.ValidationError("As senhas não conferem.", "new_password_confirm")


class VerifyEmailSchema(BaseSchema):
    token = _token_field()


class AccountDeleteSchema(BaseSchema):
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=128),
        metadata={"description": "The current password: erasing cannot be undone."},
    )


class ExportParticipationSchema(ma.Schema):
    event = ma.fields.Integer(attribute="event_id")
    event_title = ma.fields.Function(lambda p: p.event.title)
    event_start = LocalDateTime(attribute="event.start_date")
    event_end = LocalDateTime(attribute="event.end_date")
    status = ma.fields.String()
    registered_at = LocalDateTime()
    checked_in = ma.fields.Boolean()
    check_in_time = LocalDateTime(allow_none=True)
    check_in_method = ma.fields.String(
        allow_none=True, metadata={"description": "organizer, code or self (nobody vouched for it)."}
    )
    hours = ma.fields.Float(metadata={"description": "Hours this participation earned (credited once verified)."})
    emergency_contact = ma.fields.String()
    emergency_phone = ma.fields.String()
    special_needs = ma.fields.String()
    experience_level = ma.fields.String()


class ExportEventSchema(ma.Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    status = ma.fields.String()
    start_date = LocalDateTime()
    end_date = LocalDateTime()
    address = ma.fields.String()
    city = ma.fields.String()
    state = ma.fields.String()
    created_at = LocalDateTime()


class ExportCommentSchema(ma.Schema):
    id = ma.fields.Integer()
    event = ma.fields.Integer(attribute="event_id")
    parent = ma.fields.Integer(attribute="parent_id", allow_none=True)
    content = ma.fields.String()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class ExportPhotoSchema(ma.Schema):
    id = ma.fields.Integer()
    event = ma.fields.Integer(attribute="event_id")
    photo = ma.fields.Function(lambda photo: images.absolute_url(photo.photo))
    caption = ma.fields.String()
    is_before = ma.fields.Boolean()
    is_after = ma.fields.Boolean()
    created_at = LocalDateTime()


class ExportPledgeSchema(ma.Schema):
    id = ma.fields.Integer()
    event = ma.fields.Integer(attribute="resource.event_id")
    resource = ma.fields.String(attribute="resource.name")
    quantity = ma.fields.Integer()
    unit = ma.fields.String(attribute="resource.unit")
    created_at = LocalDateTime()


class ExportReportSchema(ma.Schema):
    event = ma.fields.Integer(attribute="event_id")
    event_title = ma.fields.Function(lambda report: report.event.title)
    total_participants = ma.fields.Integer()
    total_hours = ma.fields.Float(allow_none=True)
    trash_collected_kg = ma.fields.Float()
    trees_planted = ma.fields.Integer()
    area_cleaned_m2 = ma.fields.Float()
    recyclable_material_kg = ma.fields.Float()
    summary = ma.fields.String()
    challenges = ma.fields.String()
    achievements = ma.fields.String()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class ExportBadgeSchema(ma.Schema):
    name = ma.fields.String(attribute="badge.name")
    description = ma.fields.String(attribute="badge.description")
    earned_at = LocalDateTime()


class ExportEmailSchema(ma.Schema):
    subject = ma.fields.String(
        allow_none=True, metadata={"description": "Null for emails recorded before subjects were kept."}
    )
    kind = ma.fields.String()
    status = ma.fields.String(metadata={"description": "sent, logged (no mail server), rejected or sending."})
    date = LocalDateTime(attribute="claimed_at")


class ExportSessionSchema(ma.Schema):
    created_at = LocalDateTime()
    expires_at = LocalDateTime()
    revoked_at = LocalDateTime(allow_none=True)
    revoked_reason = ma.fields.String(allow_none=True)


class ExportHoursSchema(ma.Schema):
    total_hours_volunteered = ma.fields.Float()
    total_events_participated = ma.fields.Integer()


class AccountExportSchema(ma.Schema):
    """Everything the platform holds about the caller (LGPD). Emails are those of the last 90 days: older delivery
    records are deleted."""

    generated_at = LocalDateTime(required=True)
    profile = ma.fields.Nested(ProfileSchema, required=True)
    email_verified_at = LocalDateTime(allow_none=True, required=True)
    hours = ma.fields.Nested(ExportHoursSchema, required=True)
    participations = ma.fields.List(ma.fields.Nested(ExportParticipationSchema), required=True)
    events_organized = ma.fields.List(ma.fields.Nested(ExportEventSchema), required=True)
    comments = ma.fields.List(ma.fields.Nested(ExportCommentSchema), required=True)
    photos = ma.fields.List(ma.fields.Nested(ExportPhotoSchema), required=True)
    pledges = ma.fields.List(ma.fields.Nested(ExportPledgeSchema), required=True)
    reports_filed = ma.fields.List(ma.fields.Nested(ExportReportSchema), required=True)
    badges = ma.fields.List(ma.fields.Nested(ExportBadgeSchema), required=True)
    emails = ma.fields.List(ma.fields.Nested(ExportEmailSchema), required=True)
    sessions = ma.fields.List(ma.fields.Nested(ExportSessionSchema), required=True)
