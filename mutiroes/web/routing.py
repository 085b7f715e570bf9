"""URL pieces shared by every blueprint: the ``<id:...>`` path converter."""

from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers


class IdConverter(BaseConverter):
    """A positive integer id (ASCII digits). Anything else in that place matches no route, so it is a 404 — as DRF's
    router answers — or a 405 when the same path is a route of its own for other methods (``/api/events/nearby/``).
    An id beyond the column's range cannot exist: 404 as well."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number < 1 or number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def id_param_schema(_converter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
