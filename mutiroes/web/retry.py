"""Each view is one unit of work (parse, one service call, answer), retried as a whole on transient database errors.

Never one statement inside a transaction; a write runs again only when nothing of it reached the database, and an
open circuit is answered at once (see ``platform.database``).
"""

from __future__ import annotations

import functools

from flask import Flask, current_app, request

from mutiroes.models import db
from mutiroes.platform import database

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def unit_of_work(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        retrying = database.retrying(
            attempts=current_app.config["MUTIROES"].retry_attempts, safe=request.method in SAFE_METHODS
        )
        with database.request_budget():
            for attempt in retrying:
                with attempt:
                    database.begin_unit_of_work()
                    if attempt.retry_state.attempt_number > 1:
                        db.session.rollback()
                    return view(*args, **kwargs)
        return None  # pragma: no cover - Retrying either returns or raises

    return wrapper


def init_app(app: Flask) -> None:
    """Wrap every view registered so far; call it once every blueprint is in."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = unit_of_work(view)
