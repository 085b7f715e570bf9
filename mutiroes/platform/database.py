"""The database behind its breaker, with deadlines of its own, and what may be retried.

- Connecting goes through the database breaker: a dead database fails at connect (or at the pool's pre-ping,
  which reconnects), so an open circuit refuses in microseconds instead of every request waiting on a timeout.
- A server that hangs instead of failing (frozen, swapping, cut off without a reset) is the harder case: libpq waits
  for it forever. psycopg2 runs every connect and every statement through :func:`wait_with_deadline`, which gives
  up after ``db_connect_timeout`` / ``db_statement_timeout_ms``, shuts the connection down (the pool replaces it) and
  raises a disconnect error the breaker counts. The same statement timeout is set in the server too.
- With several hosts in the URL (the Patroni nodes), a host that did not answer in time goes to the end of the list
  for the next connection, so a frozen former primary costs one attempt, not every one.
- A unit of work (``web.retry``) may run again after a transient error when it is a read, or when nothing of it
  reached the database: ``statements_sent`` tells, from a flag the engine sets on the first statement.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time

import psycopg2
import pybreaker
from flask import Flask, g, has_app_context
from psycopg2 import extensions as pg_extensions
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from mutiroes.models import db
from mutiroes.platform import circuit
from mutiroes.platform.breakers import breakers, guarded

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
# seconds a client is told to wait after a database error while the circuit is still closed
RETRY_AFTER_SECONDS = 5
_STATEMENTS = "mutiroes_db_statements"
# a retry of a unit of work starts only this soon after the first attempt: after a timeout, one more would not help
RETRY_BUDGET_SECONDS = 1.0

# the deadlines of this process (the last app initialised sets them: one process runs one configuration)
_deadlines = {"connect": 30.0, "statement": 30.0, "request": 0.0}
_connecting = threading.local()
# the instant (time.monotonic()) by which the current request's database waits must be over, in this thread
_budget = threading.local()


def wait_with_deadline(connection) -> None:
    """psycopg2's wait callback: drive one operation, giving up when the server does not answer in time (its own
    deadline, or what is left of the request's budget, whichever comes first)."""
    timeout = _deadlines["connect" if getattr(_connecting, "active", False) else "statement"]
    deadline = time.monotonic() + timeout
    spent_by = getattr(_budget, "until", None)
    if spent_by is not None and spent_by < deadline:
        deadline = spent_by
        timeout = max(0.0, deadline - time.monotonic())
    while True:
        state = connection.poll()
        if state == pg_extensions.POLL_OK:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _cut(connection)
            # worded as libpq words a lost server, so SQLAlchemy drops the connection from the pool
            raise psycopg2.OperationalError(
                f"server closed the connection unexpectedly: no answer within {timeout:.1f} s (client deadline)"
            )
        if state == pg_extensions.POLL_READ:
            select.select([connection.fileno()], [], [], remaining)
        elif state == pg_extensions.POLL_WRITE:
            select.select([], [connection.fileno()], [], remaining)
        else:  # pragma: no cover - libpq has no other state
            raise psycopg2.OperationalError(f"unexpected poll state {state}")


def _cut(connection) -> None:
    """End the connection under libpq: shut its socket down (libpq keeps the descriptor and sees the server gone).
    ``connection.close()`` from inside the connection's own wait would block on the lock the operation holds, for
    as long as the server stays frozen; SQLAlchemy closes the dead connection afterwards."""
    with contextlib.suppress(OSError, ValueError):
        duplicate = socket.socket(fileno=os.dup(connection.fileno()))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


class HostOrder:
    """The hosts of a multi-host URL, the one that answered last first, the one that did not answer last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first: str | None = None
        self.last: str | None = None

    def arrange(self, cparams: dict) -> None:
        hosts, ports = str(cparams.get("host") or "").split(","), str(cparams.get("port") or "").split(",")
        if len(hosts) < 2 or len(ports) != len(hosts):
            return
        pairs = list(zip(hosts, ports, strict=True))
        with self._lock:
            first, last = self.first, self.last
        pairs.sort(key=lambda pair: (f"{pair[0]}:{pair[1]}" != first, f"{pair[0]}:{pair[1]}" == last))
        cparams["host"] = ",".join(host for host, _ in pairs)
        cparams["port"] = ",".join(port for _, port in pairs)

    def answered(self, connection) -> None:
        with self._lock:
            self.first = f"{connection.info.host}:{connection.info.port}"
            if self.last == self.first:
                self.last = None

    def failed(self, cparams: dict) -> None:
        first = str(cparams.get("host") or "").split(",")[0]
        port = str(cparams.get("port") or "").split(",")[0]
        with self._lock:
            self.last = f"{first}:{port}"
            if self.first == self.last:
                self.first = None


def _connect_through_breaker(app: Flask, order: HostOrder):
    def connect(dialect, cargs, cparams):
        _connecting.active = True
        try:
            connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
        except Exception:
            order.failed(cparams)
            raise
        finally:
            _connecting.active = False
        order.answered(connection)
        return connection

    def do_connect(dialect, _connection_record, cargs, cparams):
        order.arrange(cparams)
        return guarded("database", connect, dialect, cargs, cparams, app=app)

    return do_connect


def _mark_statement(*_args) -> None:
    if has_app_context():
        setattr(g, _STATEMENTS, True)


def _end_session(_exc: BaseException | None = None) -> None:
    """The request's session ends even when its server died after the answer was made: the rollback of a lost
    connection fails, and that must not turn an answer already computed into a 500 (the pool drops the connection)."""
    try:
        db.session.remove()
    except TRANSIENT_ERRORS as exc:
        log.warning("the database connection was lost as the request ended: %s", exc.__class__.__name__)
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    """Connect through the database breaker and note when a unit of work first sends a statement."""
    # registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in reverse order)
    app.teardown_appcontext(_end_session)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        return  # a file: nothing to break
    settings = app.config["MUTIROES"]
    _deadlines.update(
        connect=float(settings.db_connect_timeout),
        statement=settings.db_statement_timeout_ms / 1000,
        request=settings.db_request_budget_ms / 1000,
    )
    pg_extensions.set_wait_callback(wait_with_deadline)
    event.listen(engine, "do_connect", _connect_through_breaker(app, HostOrder()))
    event.listen(engine, "before_cursor_execute", _mark_statement)


@contextlib.contextmanager
def request_budget():
    """The database waits inside this block share one budget (``db_request_budget_ms``; none when 0)."""
    seconds = _deadlines["request"]
    _budget.until = time.monotonic() + seconds if seconds > 0 else None
    try:
        yield
    finally:
        _budget.until = None


def begin_unit_of_work() -> None:
    setattr(g, _STATEMENTS, False)


def statements_sent() -> bool:
    return bool(g.get(_STATEMENTS, False))


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, circuit.DependencyUnavailable)


def retrying(*, attempts: int, safe: bool) -> Retrying:
    """3 attempts by default, exponential backoff with jitter capped at 10 s, transient database errors only, and
    none once a second has gone by (a timeout already spent the time a request has).

    A read (``safe``) may always run again; a write only when the failure came before any of its statements.
    """

    def retryable(exc: BaseException) -> bool:
        return is_transient(exc) and (safe or not statements_sent())

    return Retrying(
        retry=retry_if_exception(retryable),
        stop=stop_after_attempt(attempts) | stop_after_delay(RETRY_BUDGET_SECONDS),
        wait=wait_exponential_jitter(multiplier=0.05, max=10, jitter=0.05),
        reraise=True,
    )


def retry_after_failure() -> int:
    """What Retry-After says after a database error: the time left of an open circuit, else a few seconds."""
    breaker = breakers().get("database")
    if breaker.current_state == pybreaker.STATE_OPEN:
        return circuit.retry_after(breaker)
    return RETRY_AFTER_SECONDS
