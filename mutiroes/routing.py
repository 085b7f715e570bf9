"""URL pieces shared by every blueprint: the ``<id:...>`` path converter."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import BaseConverter

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers


class IdConverter(BaseConverter):
    """A positive integer id. Anything else in that place is a 400 (not a 404 from an unmatched route); an id
    beyond the column's range simply does not exist."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        if not value.isascii() or not value.isdigit():
            error = BadRequest()
            error.data = {"messages": {"id": ["Informe um id numérico."]}}
            raise error
        number = int(value)
        if number < 1 or number > MAX_ID:
            raise NotFound()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def id_param_schema(_converter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
