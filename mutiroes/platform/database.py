"""The database behind its breaker, and what may be retried.

- Connecting goes through the database breaker: a dead database fails at connect (or at the pool's pre-ping,
  which reconnects), so an open circuit refuses in microseconds instead of every request waiting on a timeout.
- A unit of work (``web.retry``) may run again after a transient error when it is a read, or when nothing of it
  reached the database: ``statements_sent`` tells, from a flag the engine sets on the first statement.
"""

from __future__ import annotations

import pybreaker
from flask import Flask, g, has_app_context
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from mutiroes.models import db
from mutiroes.platform import circuit
from mutiroes.platform.breakers import breakers, guarded

TRANSIENT_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
# seconds a client is told to wait after a database error while the circuit is still closed
RETRY_AFTER_SECONDS = 5
_STATEMENTS = "mutiroes_db_statements"


def _connect_through_breaker(app: Flask):
    def do_connect(dialect, _connection_record, cargs, cparams):
        return guarded("database", dialect.loaded_dbapi.connect, *cargs, app=app, **cparams)

    return do_connect


def _mark_statement(*_args) -> None:
    if has_app_context():
        setattr(g, _STATEMENTS, True)


def init_app(app: Flask) -> None:
    """Connect through the database breaker and note when a unit of work first sends a statement."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        return  # a file: nothing to break
    event.listen(engine, "do_connect", _connect_through_breaker(app))
    event.listen(engine, "before_cursor_execute", _mark_statement)


def begin_unit_of_work() -> None:
    setattr(g, _STATEMENTS, False)


def statements_sent() -> bool:
    return bool(g.get(_STATEMENTS, False))


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, circuit.DependencyUnavailable)


def retrying(*, attempts: int, safe: bool) -> Retrying:
    """3 attempts by default, exponential backoff with jitter capped at 10 s, transient database errors only.

    A read (``safe``) may always run again; a write only when the failure came before any of its statements.
    """

    def retryable(exc: BaseException) -> bool:
        return is_transient(exc) and (safe or not statements_sent())

    return Retrying(
        retry=retry_if_exception(retryable),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=0.05, max=10, jitter=0.05),
        reraise=True,
    )


def retry_after_failure() -> int:
    """What Retry-After says after a database error: the time left of an open circuit, else a few seconds."""
    breaker = breakers().get("database")
    if breaker.current_state == pybreaker.STATE_OPEN:
        return circuit.retry_after(breaker)
    return RETRY_AFTER_SECONDS
