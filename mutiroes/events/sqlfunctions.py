"""SQL functions the events queries call by name, on both databases, and the text folding of search.

- ``mutiroes_distance_km(lat1, lng1, lat2, lng2)``: great-circle (haversine) distance in kilometres. PostgreSQL
  gets it from migration ``0002_events`` (plain trigonometry; made inlinable by ``0008_list_indexes``); SQLite gets
  the Python twin below on every new connection (``init_app``). Same name, same results, so one query builder
  serves both.
- ``search_text``: lower case without accents ("São Paulo" → "sao paulo"). What search and the city filter compare
  is folded with it once, when an event is written (``models.Event.searchable_text``); PostgreSQL's
  ``mutiroes_search_text`` of 0002 did the same per row and query, and is no longer called by the app.
"""

from __future__ import annotations

import math
import sqlite3
import unicodedata

from flask import Flask
from sqlalchemy import event

from mutiroes.models import db

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), the same constant the PostgreSQL function uses


def search_text(value: str | None) -> str | None:
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(value))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def distance_km(lat1: float | None, lng1: float | None, lat2: float | None, lng2: float | None) -> float | None:
    if lat1 is None or lng1 is None or lat2 is None or lng2 is None:
        return None
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = math.radians(lat2 - lat1) / 2
    half_dlambda = math.radians(lng2 - lng1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(latitude: float, longitude: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing a circle; the whole longitude range when the circle reaches a
    pole or crosses the antimeridian, where a plain box would wrongly cut it."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    min_lat, max_lat = latitude - dlat, latitude + dlat
    if min_lat <= -90 or max_lat >= 90:
        return max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0
    dlng = math.degrees(math.asin(min(1.0, math.sin(radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(latitude)))))
    min_lng, max_lng = longitude - dlng, longitude + dlng
    if min_lng < -180 or max_lng > 180:
        return min_lat, max_lat, -180.0, 180.0
    return min_lat, max_lat, min_lng, max_lng


def _register_sqlite_functions(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("mutiroes_distance_km", 4, distance_km, deterministic=True)


def init_app(app: Flask) -> None:
    """Give every new SQLite connection of the app's engine the Python twins (PostgreSQL has them from migrations)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _register_sqlite_functions):
        event.listen(engine, "connect", _register_sqlite_functions)
