"""Schema building blocks shared by every domain: Portuguese messages, datetimes in the server zone, pagination."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

import marshmallow as ma

from mutiroes import timeutil
from mutiroes.errors import NotFound

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
    ma.fields.List: {"invalid": "Informe uma lista válida.", "too_long": "Use no máximo {max} itens."},
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


# Datetimes outside these years are typos or probes; refusing them also keeps time-zone arithmetic in range.
MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _unstorable(value) -> str | None:
    """Why a string cannot be stored (PostgreSQL refuses NUL; lone surrogates are not UTF-8), or None."""
    if "\x00" in value:
        return "O texto não pode conter o caractere nulo."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Texto com codificação inválida."
    return None


def _find_unstorable(data, path: str) -> tuple[str, str] | None:
    if isinstance(data, str):
        problem = _unstorable(data)
        return (path, problem) if problem else None
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list | tuple):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        if isinstance(key, str) and _unstorable(key):
            return (path or NON_FIELD, "Nome de campo inválido.")
        found = _find_unstorable(value, path or str(key))
        if found:
            return found
    return None


NON_FIELD = "_schema"
BRAZILIAN_STATES = tuple(
    "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split()  # noqa: SIM905
)
PHONE_RE = re.compile(r"^[0-9+()\-\s]{8,20}\Z")


class BaseSchema(ma.Schema):
    """Unknown fields are refused, so no body can set a server-owned field by guessing its name.

    Text the database cannot store (NUL characters, invalid UTF-8) is refused with 400 before it reaches it.
    Read-only fields (``dump_only``, see :func:`accepts_back`) are dropped before anything else looks at the body:
    a client may send back the representation it got, and what it cannot change is ignored, as DRF does.
    """

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def prepare_input(self, data, **_kwargs):
        if isinstance(data, Mapping) and not hasattr(data, "to_dict"):
            read_only = self.dump_fields.keys() - self.load_fields.keys()
            if read_only & data.keys():
                data = {key: value for key, value in data.items() if key not in read_only}
        # webargs hands query strings over as a MultiDict proxy; plain mappings and lists are walked the same way
        values = data.to_dict() if hasattr(data, "to_dict") else data
        found = _find_unstorable(values if isinstance(values, dict | list) else {}, "")
        if found:
            raise ma.ValidationError(found[1], found[0])
        return data


def accepts_back(representation: type[ma.Schema]):
    """Class decorator of a write schema: the fields of ``representation`` (the resource as the API answers it) that
    the schema does not take become read-only ones, documented as such and ignored when a client sends them back.

    Any other unknown field is still a 400, and a read-only field never reaches the service.
    """

    def decorate(schema: type[BaseSchema]) -> type[BaseSchema]:
        read_only = {
            name: ma.fields.Raw(
                dump_only=True, metadata={"description": "Read-only: ignored when sent back.", "readOnly": True}
            )
            for name in representation._declared_fields
            if name not in schema._declared_fields
        }
        namespace = {"__doc__": schema.__doc__, "__module__": schema.__module__, "__qualname__": schema.__qualname__}
        return type(schema.__name__, (schema,), {**namespace, **read_only})

    return decorate


# --- numbers ---------------------------------------------------------------------------------------------------
# JSON numbers, or numeric strings as HTML forms send them ("7", "35.5"), as DRF accepts them. Only ASCII digits:
# int() and float() would also take "٧", "1_000", "nan" or " inf", which no form sends.
MAX_NUMBER_TEXT = 100
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+(?:\.0*)?\s*\Z")
_DECIMAL_TEXT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*\Z")


class Integer(ma.fields.Integer):
    """An integer: a JSON integer, an integral JSON number (``7.0``) or a string of one (``"7"``, ``"7.0"``), as DRF's
    IntegerField. ``7.5``, ``"7,5"``, ``"sete"`` and booleans are a 400 on the field."""

    def _validated(self, value):
        if isinstance(value, str):
            if len(value) > MAX_NUMBER_TEXT or not _INTEGER_TEXT.match(value):
                raise self.make_error("invalid", input=value)
            value = int(value.strip().split(".")[0])
        elif not _is_integral(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _is_integral(value) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


class Float(ma.fields.Float):
    """A finite number: a JSON number or a decimal string (``"35.5"``, ``"-23.55"``, ``"1e3"``); never NaN or
    infinity."""

    def _validated(self, value):
        if isinstance(value, str):
            if len(value) > MAX_NUMBER_TEXT or not _DECIMAL_TEXT.match(value):
                raise self.make_error("invalid", input=value)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        number = super()._validated(value)
        if not math.isfinite(number):
            raise self.make_error("special")
        return number


class List(ma.fields.List):
    """A list with a maximum length, checked before any item is parsed: a 100 000-item list costs one ``len``."""

    def __init__(self, cls_or_instance, *, max_length: int, **kwargs):
        kwargs.setdefault("validate", ma.validate.Length(max=max_length, error="Use no máximo {max} itens."))
        super().__init__(cls_or_instance, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list | tuple) and len(value) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        return super()._deserialize(value, attr, data, **kwargs)


def id_field(**kwargs) -> Integer:
    """An integer id: 1..2³¹-1 (beyond that PostgreSQL could not even compare it)."""
    return Integer(validate=ma.validate.Range(min=1, max=MAX_ID, error="Informe um id válido."), **kwargs)


def _in_range(value: dt.datetime, field: ma.fields.Field) -> dt.datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise field.make_error("invalid")
    return value


class LocalDateTime(ma.fields.DateTime):
    """ISO 8601 in and out. Naive inputs are read in the server zone; outputs carry the server zone's offset."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise self.make_error("invalid")
        return _in_range(timeutil.aware(parsed), self)

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
                parsed = dt.datetime.combine(day, moment, tzinfo=timeutil.server_tz())
            else:
                parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if not MIN_YEAR <= parsed.year <= MAX_YEAR:
                raise self.make_error("invalid")
            return _in_range(timeutil.aware(parsed), self)
        except (ValueError, OverflowError) as exc:
            raise self.make_error("invalid") from exc


INVALID_PAGE = "Página inválida."


class PaginationArgsSchema(BaseSchema):
    """``?page=N&page_size=M``: 20 a page by default; larger sizes than 100 are clamped to 100, as DRF does.

    A ``page`` that is not a positive integer is 404 "Página inválida.", as DRF answers (and as a page past the end).
    """

    class Meta(BaseSchema.Meta):
        unknown = ma.EXCLUDE

    page = Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_ID))
    page_size = Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(min=1, error="page_size deve ser ≥ 1.")
    )

    @ma.pre_load
    def page_is_a_place(self, data, **_kwargs):
        page = data.get("page") if isinstance(data, Mapping) else None
        if page == "":  # `?page=` is the first page, as DRF reads it
            return {key: data[key] for key in data if key != "page"}
        if page is not None and page is not ma.missing and not _is_page_number(page):
            raise NotFound(INVALID_PAGE)
        return data

    @ma.post_load
    def clamp_page_size(self, data, **_kwargs):
        if "page_size" in data:
            data["page_size"] = min(data["page_size"], MAX_PAGE_SIZE)
        return data


def _is_page_number(value) -> bool:
    try:
        return 1 <= Integer().deserialize(value) <= MAX_ID
    except ma.ValidationError:
        return False


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


class DetailSchema(ma.Schema):
    """``{"detail": "..."}``: the answer of actions that return no resource."""

    detail = ma.fields.String(required=True)
