"""Time in one place: UTC inside, the server zone (``MUTIROES_TIME_ZONE``) at the edges."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIME_ZONE = "America/Sao_Paulo"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def server_tz() -> ZoneInfo:
    if has_app_context():
        return current_app.config["MUTIROES"].tz
    return ZoneInfo(DEFAULT_TIME_ZONE)


def aware(value: dt.datetime) -> dt.datetime:
    """Naive datetimes are read in the server zone; the result is always UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=server_tz())
    return value.astimezone(dt.UTC)


def to_local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # stored values are UTC; SQLite gives them back naive
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(server_tz())


def local_today() -> dt.date:
    return utcnow().astimezone(server_tz()).date()


MONTHS = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)


def long_date(day: dt.date) -> str:
    """``2 de dezembro de 2026``: a date as pt-BR writes it out (emails, certificates)."""
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"
