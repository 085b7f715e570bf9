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
