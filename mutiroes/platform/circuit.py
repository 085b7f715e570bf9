"""What every circuit breaker shares: how one is built, what counts as a failure, and the 503 of an open one.

One pybreaker breaker per dependency (database, Redis, SMTP) and application. pybreaker holds a lock for the
duration of ``breaker.call``, so only short operations (connect, one Redis command, one SMTP exchange) are ever run
through ``call``.
"""

from __future__ import annotations

import datetime as dt
import smtplib

import pybreaker
import redis as redis_lib
from sqlalchemy import exc as sa_exc

from mutiroes.config import Config
from mutiroes.errors import ServiceUnavailable

DEPENDENCIES = ("database", "redis", "smtp")

MESSAGES = {
    "database": "O banco de dados está indisponível no momento. Tente novamente em instantes.",
    "redis": "Um serviço interno está indisponível no momento. Tente novamente em instantes.",
    "smtp": "O envio de e-mails está indisponível no momento.",
}


class DependencyUnavailable(ServiceUnavailable):
    """A dependency's circuit is open: answer 503 at once, with the time left before the next trial."""

    def __init__(self, dependency: str, retry_after: int) -> None:
        super().__init__(MESSAGES.get(dependency), retry_after=retry_after)
        self.dependency = dependency


class RedisUnavailable(redis_lib.ConnectionError):
    """The Redis circuit is open. A ``redis.ConnectionError``, so callers' outage fallbacks apply."""


def is_redis_failure(exc: BaseException) -> bool:
    return isinstance(exc, redis_lib.ConnectionError | redis_lib.TimeoutError | OSError)


def is_smtp_failure(exc: BaseException) -> bool:
    # a refused recipient is the message's problem, not the server's
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError) or (
        isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code in (421, 451, 452)
    )


def is_database_failure(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.DBAPIError | OSError) or type(exc).__name__ in {"OperationalError", "InterfaceError"}


FAILURES = {"database": is_database_failure, "redis": is_redis_failure, "smtp": is_smtp_failure}


def make_breaker(
    name: str, settings: Config, storage: pybreaker.CircuitBreakerStorage | None = None
) -> pybreaker.CircuitBreaker:
    failed = FAILURES[name]
    return pybreaker.CircuitBreaker(
        fail_max=settings.breaker_fail_max,
        reset_timeout=settings.breaker_reset_seconds,
        exclude=[lambda exc: not failed(exc)],
        state_storage=storage,
        name=name,
        throw_new_error_on_trip=False,
    )


def retry_after(breaker: pybreaker.CircuitBreaker) -> int:
    """Seconds until an open breaker lets a trial call through (at least 1)."""
    opened_at = breaker._state_storage.opened_at  # pybreaker keeps it there; there is no public accessor
    if opened_at is None:
        return 1
    remaining = (opened_at + dt.timedelta(seconds=breaker.reset_timeout)) - dt.datetime.now(dt.UTC)
    return max(1, int(remaining.total_seconds() + 0.999))


def call(breaker: pybreaker.CircuitBreaker, func, *args, **kwargs):
    """Run one short call through ``breaker``; an open circuit raises DependencyUnavailable."""
    try:
        return breaker.call(func, *args, **kwargs)
    except pybreaker.CircuitBreakerError as exc:
        raise DependencyUnavailable(breaker.name, retry_after(breaker)) from exc
