"""Schema building blocks shared by every domain: Portuguese messages, datetimes in the server zone, pagination."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from flask import current_app

from mutiroes import timeutil

# Messages shown to people are in Brazilian Portuguese: marshmallow's built-in messages are translated once, here.
_FIELD_MESSAGES = {
    ma.fields.Field: {
        "required": "Este campo é obrigatório.",
        "null": "Este campo não pode ser nulo.",
        "validator_failed": "Valor inválido.",
    },
    ma.fields.String: {
        "invalid": "Informe um texto válido.",
        "invalid_utf8": "Texto com codificação inválida.",
    },
    ma.fields.Integer: {"invalid": "Informe um número inteiro válido."},
    ma.fields.Number: {"invalid": "Informe um número válido.", "too_large": "Número grande demais."},
    ma.fields.Float: {"special": "Números especiais (NaN, infinito) não são permitidos."},
    ma.fields.Boolean: {"invalid": "Informe um valor booleano válido."},
    ma.fields.DateTime: {
        "invalid": "Informe uma data e hora válida (ISO 8601).",
        "invalid_awareness": "Informe uma data e hora válida.",
        "format": "Não foi possível formatar a data.",
    },
    ma.fields.Date: {"invalid": "Informe uma data válida (AAAA-MM-DD)."},
    ma.fields.Email: {"invalid": "Informe um endereço de e-mail válido."},
    ma.fields.URL: {"invalid": "Informe uma URL válida."},
    ma.fields.List: {"invalid": "Informe uma lista válida."},
    ma.fields.Dict: {"invalid": "Informe um objeto válido."},
    ma.fields.Mapping: {"invalid": "Informe um objeto válido."},
    ma.fields.Nested: {"type": "Informe um objeto válido."},
}
for _field_class, _messages in _FIELD_MESSAGES.items():
    _field_class.default_error_messages = {**_field_class.default_error_messages, **_messages}
ma.Schema._default_error_messages = {
    **ma.Schema._default_error_messages,
    "type": "Dados inválidos: era esperado um objeto JSON.",
    "unknown": "Campo desconhecido.",
}


class BaseSchema(ma.Schema):
    """Unknown fields are refused, so no body can set a server-owned field by guessing its name."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class LocalDateTime(ma.fields.DateTime):
    """ISO 8601 in and out. Naive inputs are read in the server zone; outputs carry the server zone's offset."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        return timeutil.aware(parsed)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return timeutil.to_local(value).isoformat()


class DateOrDateTime(ma.fields.Field):
    """A date (``YYYY-MM-DD``) or a datetime; dates become the start or the end of that day in the server zone."""

    default_error_messages = {"invalid": "Informe uma data (AAAA-MM-DD) ou data e hora válida."}

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                moment = dt.time.max if self.end_of_day else dt.time.min
                return dt.datetime.combine(day, moment, tzinfo=timeutil.server_tz())
            return timeutil.aware(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError as exc:
            raise self.make_error("invalid") from exc


class PaginationArgsSchema(BaseSchema):
    class Meta(BaseSchema.Meta):
        unknown = ma.EXCLUDE

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, error="A página deve ser ≥ 1."))
    page_size = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, error="page_size deve ser ≥ 1."))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The DRF page envelope around ``item_schema``, named for the OpenAPI document."""
    return type(
        name,
        (ma.Schema,),
        {
            "count": ma.fields.Integer(required=True),
            "next": ma.fields.String(allow_none=True, required=True),
            "previous": ma.fields.String(allow_none=True, required=True),
            "results": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        },
    )


def max_page_size() -> int:
    return int(current_app.config.get("MUTIROES_MAX_PAGE_SIZE", 100))
