"""URL pieces shared by every blueprint: the ``<id:...>`` path converter."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers


class IdConverter(BaseConverter):
    """A positive integer id. Anything else in that place is a 400 (not a 404 from an unmatched route); an id
    beyond the column's range simply does not exist."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        if not value.isascii() or not value.isdigit():
            if value in self._static_segments():
                # `/api/events/nearby/` with another method: not an id, let the router answer 405
                raise ValidationError()
            error = BadRequest()
            error.data = {"messages": {"id": ["Informe um id numérico."]}}
            raise error
        number = int(value)
        if number < 1 or number > MAX_ID:
            raise NotFound()
        return number

    def _static_segments(self) -> frozenset[str]:
        # computed on the first request, when every route is registered
        segments = getattr(self.map, "mutiroes_static_segments", None)
        if segments is None:
            segments = frozenset(
                part for rule in self.map.iter_rules() for part in rule.rule.split("/") if part and "<" not in part
            )
            self.map.mutiroes_static_segments = segments
        return segments

    def to_url(self, value) -> str:
        return str(int(value))


def id_param_schema(_converter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
