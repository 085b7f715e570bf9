"""The event list's and nearby's answers, assembled from one rendered item per event (``cache.event_items``).

The bytes are exactly those ``jsonify`` would make of the DRF envelope or of nearby's array (fields in schema order,
compact separators, UTF-8, a final newline): the items are rendered with the same schema and JSON settings, and only
joined here (a nearby item is the list item with ``distance_km``, ``NearbyEventSchema``'s last field, appended).
"""

from __future__ import annotations

from flask import Response, current_app

from mutiroes.events import discovery
from mutiroes.events.schemas import EventListItemSchema
from mutiroes.web import cache
from mutiroes.web.pagination import envelope

_ITEM = EventListItemSchema()


def _dumps(value) -> str:
    return current_app.json.dumps(value, separators=(",", ":"))


def render_items(event_ids: list[int]) -> dict[int, bytes]:
    """These events as list items, by id (an event deleted meanwhile is left out)."""
    return {event_id: _dumps(_ITEM.dump(event)).encode() for event_id, event in discovery.get_many(event_ids).items()}


def event_page(count_and_ids: tuple[int, list[int]], *, page: int, page_size: int) -> Response:
    """The page answer of ``discovery.get_page``'s count and ids (404 past the end, as ``envelope`` says)."""
    page_envelope = envelope(count_and_ids, page=page, page_size=page_size)
    items = cache.event_items(page_envelope.pop("results"), render_items).values()
    head = _dumps(page_envelope)  # {"count":..,"next":..,"previous":..}
    body = b"".join((head[:-1].encode(), b',"results":[', b",".join(items), b"]}\n"))
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


def nearby(found: list[tuple[int, float]]) -> Response:
    """The nearby answer of ``discovery.nearby``'s ids and distances: a join or an edit shows in the next one, as in
    the list, since each item is valid only while its event is unchanged."""
    items = cache.event_items([event_id for event_id, _distance in found], render_items)
    parts = [
        b"".join((items[event_id][:-1], b',"distance_km":', _dumps(distance).encode(), b"}"))
        for event_id, distance in found
        if event_id in items
    ]
    body = b"".join((b"[", b",".join(parts), b"]\n"))
    return current_app.response_class(body, mimetype=current_app.json.mimetype)
