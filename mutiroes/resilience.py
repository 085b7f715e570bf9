"""Circuit breakers and retry policies for the dependencies: the database, Redis and SMTP.

- One pybreaker breaker per dependency and application, built lazily (the app boots with Redis down).
- The database and SMTP breakers keep their state in Redis so every replica and worker agrees; while Redis is the
  thing failing they fall back to this process's memory. The Redis breaker itself lives in memory.
- The database breaker guards *connecting*: a dead database fails at connect (or at the pool's pre-ping, which
  reconnects), so an open circuit refuses in microseconds instead of every request waiting on a connect timeout.
- Every Redis command and pipeline goes through the Redis breaker (``GuardedRedis``); an open circuit raises a
  ``redis.ConnectionError`` subclass, so each caller's existing fallback for a Redis outage applies unchanged.
- tenacity retries a whole unit of work (a view: parse, one service call, answer), never one statement inside a
  transaction, only for transient errors, and never when a circuit is open.

pybreaker holds a lock for the duration of ``breaker.call``, so only short operations (connect, one Redis command,
one SMTP exchange) are ever run through ``call``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time

import pybreaker
import redis as redis_lib
from flask import Flask, current_app, g, has_app_context, request
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from mutiroes.errors import ServiceUnavailable

log = logging.getLogger(__name__)

DEPENDENCIES = ("database", "redis", "smtp")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "mutiroes:breaker:{service}:{name}"


class DependencyUnavailable(ServiceUnavailable):
    """A dependency's circuit is open: answer 503 at once, with the time left before the next trial."""

    def __init__(self, dependency: str, retry_after: int) -> None:
        messages = {
            "database": "O banco de dados está indisponível no momento. Tente novamente em instantes.",
            "redis": "Um serviço interno está indisponível no momento. Tente novamente em instantes.",
            "smtp": "O envio de e-mails está indisponível no momento.",
        }
        super().__init__(messages.get(dependency), retry_after=retry_after)
        self.dependency = dependency


class RedisUnavailable(redis_lib.ConnectionError):
    """The Redis circuit is open. A ``redis.ConnectionError``, so callers' outage fallbacks apply."""


# --- breaker state storage -----------------------------------------------------------------------------------


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state in one Redis hash shared by all processes, mirrored in memory for when Redis fails.

    pybreaker reads the state before every call and resets the failure counter after every success. Doing that in
    Redis cost two round trips per guarded call (a third of a bulk-email worker's time), so reads come from a
    snapshot of the hash refreshed at most every ``SNAPSHOT_SECONDS``, and a reset is written only when the shared
    counter is not already zero. Another process's state change is therefore seen within that snapshot age.
    """

    SNAPSHOT_SECONDS = 1.0

    def __init__(self, name: str, client: redis_lib.Redis, *, service: str) -> None:
        super().__init__(name)
        self._client = client
        self._key = _STATE_KEY.format(service=service, name=name)
        self._memory = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._snapshot: dict[str, str] | None = None
        self._snapshot_at = 0.0

    def _fields(self) -> dict[str, str] | None:
        """The shared hash (a recent snapshot), or None while Redis cannot be read."""
        now = time.monotonic()
        if now - self._snapshot_at >= self.SNAPSHOT_SECONDS:
            self._snapshot_at = now
            try:
                raw = self._client.hgetall(self._key)
                self._snapshot = {k.decode(): v.decode() for k, v in raw.items()}
            except redis_lib.RedisError:
                self._snapshot = None
        return self._snapshot

    def _read(self, field: str) -> str | None:
        fields = self._fields()
        return None if fields is None else fields.get(field)

    def _write(self, **values) -> None:
        values = {k: str(v) for k, v in values.items()}
        try:
            self._client.hset(self._key, mapping=values)
        except redis_lib.RedisError:
            log.debug("breaker %s: redis unavailable, state kept in memory only", self.name)
            return
        if self._snapshot is not None:
            self._snapshot.update(values)

    def _incr(self, field: str) -> None:
        try:
            value = int(self._client.hincrby(self._key, field, 1))
        except redis_lib.RedisError:
            return
        if self._snapshot is not None:
            self._snapshot[field] = str(value)

    @property
    def state(self) -> str:
        return self._read("state") or self._memory.state

    @state.setter
    def state(self, state: str) -> None:
        self._memory.state = state
        self._write(state=state)

    def increment_counter(self) -> None:
        self._memory.increment_counter()
        self._incr("fail_counter")

    def reset_counter(self) -> None:
        self._memory.reset_counter()
        if self._read("fail_counter") not in (None, "0"):
            self._write(fail_counter=0)

    def increment_success_counter(self) -> None:
        self._memory.increment_success_counter()
        self._incr("success_counter")

    def reset_success_counter(self) -> None:
        self._memory.reset_success_counter()
        if self._read("success_counter") not in (None, "0"):
            self._write(success_counter=0)

    @property
    def counter(self) -> int:
        raw = self._read("fail_counter")
        return int(raw) if raw is not None else self._memory.counter

    @property
    def success_counter(self) -> int:
        raw = self._read("success_counter")
        return int(raw) if raw is not None else self._memory.success_counter

    @property
    def opened_at(self) -> dt.datetime | None:
        raw = self._read("opened_at")
        if raw:
            return dt.datetime.fromtimestamp(float(raw), dt.UTC)
        return self._memory.opened_at

    @opened_at.setter
    def opened_at(self, value: dt.datetime) -> None:
        self._memory.opened_at = value
        self._write(opened_at=value.timestamp())


# --- breakers ------------------------------------------------------------------------------------------------


def _is_connection_failure(exc: BaseException) -> bool:
    return isinstance(exc, redis_lib.ConnectionError | redis_lib.TimeoutError | OSError)


def _is_smtp_failure(exc: BaseException) -> bool:
    import smtplib

    # a refused recipient is the message's problem, not the server's
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError) or (
        isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code in (421, 451, 452)
    )


class Breakers:
    """The breakers of one application, created on first use."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        # re-entrant: building a Redis-backed breaker reads its state through Redis, which builds the Redis breaker
        self._lock = threading.RLock()
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}

    def get(self, name: str) -> pybreaker.CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is not None:
            return breaker
        with self._lock:
            if name not in self._breakers:
                self._breakers[name] = self._build(name)
            return self._breakers[name]

    def _build(self, name: str) -> pybreaker.CircuitBreaker:
        settings = self._app.config["MUTIROES"]
        storage = None
        if name != "redis":
            from mutiroes.extensions import redis

            client = redis.client_for(self._app)
            if client is not None:
                storage = SharedStorage(name, client, service=settings.service_name)
        failure = {"database": _is_db_connect_failure, "redis": _is_connection_failure, "smtp": _is_smtp_failure}
        return pybreaker.CircuitBreaker(
            fail_max=settings.breaker_fail_max,
            reset_timeout=settings.breaker_reset_seconds,
            exclude=[lambda exc, failed=failure[name]: not failed(exc)],
            state_storage=storage,
            name=name,
            throw_new_error_on_trip=False,
        )

    def states(self) -> dict[str, str]:
        result = {}
        for name in DEPENDENCIES:
            try:
                result[name] = self.get(name).current_state
            except Exception:  # noqa: BLE001 - reporting must never fail
                result[name] = "unknown"
        return result


def breakers(app: Flask | None = None) -> Breakers:
    app = app or current_app._get_current_object()
    registry = app.extensions.get("mutiroes_breakers")
    if registry is None:
        registry = app.extensions.setdefault("mutiroes_breakers", Breakers(app))
    return registry


def retry_after(breaker: pybreaker.CircuitBreaker) -> int:
    opened_at = breaker._state_storage.opened_at  # pybreaker keeps it there; there is no public accessor
    if opened_at is None:
        return 1
    remaining = (opened_at + dt.timedelta(seconds=breaker.reset_timeout)) - dt.datetime.now(dt.UTC)
    return max(1, int(remaining.total_seconds() + 0.999))


def guarded(name: str, func, *args, app: Flask | None = None, **kwargs):
    """Run one short call through the breaker of ``name``; an open circuit raises DependencyUnavailable."""
    breaker = breakers(app).get(name)
    try:
        return breaker.call(func, *args, **kwargs)
    except pybreaker.CircuitBreakerError as exc:
        raise DependencyUnavailable(name, retry_after(breaker)) from exc


# --- Redis ---------------------------------------------------------------------------------------------------


class GuardedRedis(redis_lib.Redis):
    """A Redis client whose every command and pipeline goes through the application's Redis breaker."""

    mutiroes_app: Flask | None = None

    def _through_breaker(self, func, *args, **kwargs):
        try:
            return guarded("redis", func, *args, app=self.mutiroes_app, **kwargs)
        except DependencyUnavailable as exc:
            raise RedisUnavailable("redis circuit open") from exc

    def execute_command(self, *args, **options):
        return self._through_breaker(super().execute_command, *args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        @functools.wraps(execute)
        def guarded_execute(raise_on_error=True):
            return self._through_breaker(execute, raise_on_error)

        pipe.execute = guarded_execute
        return pipe


# --- database ------------------------------------------------------------------------------------------------


def _is_db_connect_failure(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.DBAPIError | OSError) or type(exc).__name__ in {
        "OperationalError",
        "InterfaceError",
    }


def _connect_through_breaker(app: Flask):
    def do_connect(dialect, _connection_record, cargs, cparams):
        if has_app_context():
            g.mutiroes_db_connect_failed = False
        try:
            return guarded("database", dialect.loaded_dbapi.connect, *cargs, app=app, **cparams)
        except Exception:
            if has_app_context():
                g.mutiroes_db_connect_failed = True
            raise

    return do_connect


def _mark_statement(*_args) -> None:
    if has_app_context():
        g.mutiroes_db_statements = True


TRANSIENT_DB_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)


def init_app(app: Flask) -> None:
    from mutiroes.extensions import db

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        event.listen(engine, "do_connect", _connect_through_breaker(app))
        event.listen(engine, "before_cursor_execute", _mark_statement)
    for error_class in TRANSIENT_DB_ERRORS:
        app.register_error_handler(error_class, render_database_error)


def _retryable() -> retry_if_exception:
    def transient(exc: BaseException) -> bool:
        if isinstance(exc, DependencyUnavailable) or not isinstance(exc, TRANSIENT_DB_ERRORS):
            return False
        # A read may run again. A write may run again only when nothing reached the database: the failure was
        # connecting, before any statement of this unit of work was sent.
        return request.method in SAFE_METHODS or not g.get("mutiroes_db_statements", False)

    return retry_if_exception(transient)


def unit_of_work(view):
    """Retry a whole view (one unit of work) on transient database errors: 3 attempts, jittered backoff ≤ 10 s."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from mutiroes.extensions import db

        retrying = Retrying(
            retry=_retryable(),
            stop=stop_after_attempt(current_app.config["MUTIROES"].retry_attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=10, jitter=0.05),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                g.mutiroes_db_statements = False
                if attempt.retry_state.attempt_number > 1:
                    db.session.rollback()
                return view(*args, **kwargs)
        return None  # pragma: no cover - Retrying either returns or raises

    return wrapper


def wrap_views(app: Flask) -> None:
    for endpoint, view in list(app.view_functions.items()):
        if endpoint not in ("static",):
            app.view_functions[endpoint] = unit_of_work(view)


def render_database_error(error: Exception):
    """A database that fails mid-request is a 503 with Retry-After, like an open circuit; never a 500."""
    from mutiroes.errors import render_api_error

    log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
    breaker = breakers().get("database")
    wait = retry_after(breaker) if breaker.current_state == pybreaker.STATE_OPEN else 5
    return render_api_error(DependencyUnavailable("database", wait))
