"""Logging of every process (API replicas, workers, scheduler): one line per event, JSON or console.

``MUTIROES_LOG_FORMAT=json`` (the default outside the embedded mode) writes one JSON object per line with
``timestamp``, ``level``, ``logger``, ``message``, ``request_id`` and ``replica``, then whatever the call site adds
(the access line's ``method``, ``route``, ``status``, ``duration_ms``, ``user_id``; a job's ``job``, ``job_id``,
``duration_ms``). ``console`` writes the same events as short lines for a person at a terminal (``make run``).

The request id lives in a context variable: the web layer sets it for the length of a request, the job runner for
the length of a job (from the id stored with the job), so every line logged meanwhile carries it, whichever module
logs it. Outside both (start-up, the outbox relay, periodic jobs) it is null.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from mutiroes.config import Config

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("mutiroes_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or of the request behind the job) this code runs for; ``None`` outside one."""
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token:
    """Make ``value`` the current request id until :func:`reset_request_id` is given the returned token."""
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


@contextlib.contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    """The current request id is ``value`` inside the block (a job runs for the request that caused it)."""
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


def replica_id(configured: str | None = None) -> str:
    """This process's name in logs and ``/health/``: ``MUTIROES_REPLICA_ID`` when set, else ``hostname:pid``.

    The default is made once per process and again in a forked child: gunicorn builds the app in its master and
    forks the workers afterwards, each with a pid of its own.
    """
    if configured:
        return configured
    global _default_replica
    if _default_replica is None:
        _default_replica = f"{socket.gethostname()}:{os.getpid()}"
    return _default_replica


# ``hostname:pid``, made at the first line of each process (asking the kernel for both on every line cost more than
# the rest of the line); a forked child starts over, so each gunicorn worker names its own pid
_default_replica: str | None = None


def _forget_replica() -> None:
    global _default_replica
    _default_replica = None


os.register_at_fork(after_in_child=_forget_replica)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``replica`` to every record of the handler it is on, so any formatter can show them."""

    def __init__(self, replica: str | None = None) -> None:
        super().__init__()
        self.replica = replica

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.replica = replica_id(self.replica)
        return True


# what every LogRecord has of its own: the rest of a record's attributes are what its call site added (``extra=``)
_RECORD_ATTRIBUTES = frozenset(
    {*vars(logging.LogRecord("", 0, "", 0, "", (), None)), "message", "asctime", "taskName", "request_id", "replica"}
)


def _jsonable(value: Any) -> Any:
    """What ``json.dumps`` cannot write itself: dates in ISO 8601, an enum member as its value, an exception with
    its class, anything else as its ``str`` (its ``repr`` when that fails: a line is never lost to a value)."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    try:
        if isinstance(value, BaseException):
            return f"{type(value).__name__}: {value}"
        return str(value)
    except Exception:
        return object.__repr__(value)


# made once: ``json.dumps(..., default=...)`` would build an encoder for every line
_ENCODER = json.JSONEncoder(default=_jsonable)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (UTC, ISO 8601), level, logger, message, request_id, replica, the
    extras by name, then ``exc_info`` and ``stack_info`` when the record has them.

    Written by hand rather than by a generic formatter: every cache hit writes an access line, and a generic one
    (parsing a format, merging the extras field by field) cost more than the rest of the hit's Python.
    """

    _second: tuple[int, str] = (-1, "")  # the last second made and its text, read and replaced as one

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "replica": getattr(record, "replica", None),
        }
        attributes = record.__dict__
        for name in sorted(attributes.keys() - _RECORD_ATTRIBUTES - line.keys()):  # extras, never over the above
            line[name] = attributes[name]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return _ENCODER.encode(line)

    def _timestamp(self, created: float) -> str:
        second = int(created)
        made = self._second
        if made[0] != second:  # the date and time part changes once a second: made once per second
            made = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{made[1]}.{int((created - second) * 1000):03d}Z"


class ConsoleFormatter(logging.Formatter):
    """``21:47:03 INFO mutiroes.access: POST /api/users/register/ 201 [request id]``: for reading, not for parsing."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [{request_id}]" if request_id else line


class StderrHandler(logging.StreamHandler):
    """The process's handler on the root logger, the one :func:`configure` replaces (it leaves any other be).

    It writes to ``sys.stderr`` as it is at each record: a test runner swaps and closes sys.stderr, and a handler
    holding the old one would write to a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def handler(log_format: str = "json", replica: str | None = None, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``log_format`` lines (``json`` or ``console``) with the request id and the replica, to
    ``stream``, or to stderr as the process's handler."""
    made = StderrHandler() if stream is None else logging.StreamHandler(stream)
    made.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    made.addFilter(ContextFilter(replica))
    return made


def configure(config: Config) -> None:
    """Every logger of the process (ours, Flask's, RQ's, rq-scheduler's, Alembic's) writes through one handler on
    the root logger, to stderr.

    RQ and rq-scheduler add handlers of their own only when none is there, so theirs are never installed and their
    lines come out in the same format. Called again (each ``create_app``), it replaces that handler.
    """
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(previous)
        previous.close()
    root.addHandler(handler(config.log_format, config.replica_id))
    root.setLevel(config.log_level)


def gunicorn_logconfig(config: Config) -> dict:
    """gunicorn's ``logconfig_dict``: its own lines (workers booting, timeouts) go through the app's handler.

    gunicorn lays this over its defaults one key deep, so the root logger, the handlers and the formatters are all
    given here: otherwise its default console handler would stay on the root and print every line twice.
    ``configure`` (``create_app``, run in the master since the app is preloaded) then replaces the root's handler
    with an equal one, and a reload (SIGHUP) that applies this again leaves the same single handler.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": config.log_level, "handlers": ["mutiroes"]},
        "loggers": {
            "gunicorn.error": {"level": config.log_level, "handlers": [], "propagate": True},
            # the app writes each request's line itself; with a logconfig_dict gunicorn logs access at INFO even
            # without an accesslog, so only a higher level keeps its duplicate out
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
        "handlers": {"mutiroes": {"()": handler, "log_format": config.log_format, "replica": config.replica_id}},
        "formatters": {},
    }
