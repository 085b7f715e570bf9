"""The one way to request background work: ``jobs.request(name, **ids)`` inside a service's unit of work.

With Redis configured, a request is an outbox row (``outbox.OutboxJob``) written in the caller's transaction; after
the commit it is pushed to its RQ queue, and the relay pushes whatever Redis could not take at that moment. In the
embedded mode (no ``MUTIROES_REDIS_URL``) the job runs on a short-lived thread of this process right after the
commit. Either way nothing runs before its transaction commits, a rolled-back transaction requests nothing, and a
request never waits on SMTP.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from mutiroes.jobs import outbox, registry, runner
from mutiroes.models import db
from mutiroes.platform import logs
from mutiroes.timeutil import utcnow

PENDING_KEY = "mutiroes_pending_jobs"


def request(name: str, **kwargs) -> None:
    """Ask for ``name(**kwargs)`` to run once the current transaction commits (dropped if it rolls back).

    The job keeps the current request id (the request's, or the one of the request behind the running job).
    """
    _request(name, kwargs, run_at=None)


def request_at(run_at: dt.datetime, name: str, **kwargs) -> None:
    """:func:`request`, but the job runs no earlier than ``run_at`` (at once when that has passed).

    A delayed job is a convenience, not a guarantee: a Redis that loses its data loses the schedule, so whatever
    must happen eventually also needs a periodic step that catches up (see ``mutiroes.jobs.cleanup``).
    """
    _request(name, kwargs, run_at=run_at)


def _request(name: str, kwargs: dict, *, run_at: dt.datetime | None) -> None:
    if name not in registry.REGISTRY:
        raise KeyError(f"unknown job {name!r}")
    # begin the transaction now if nothing has yet: a rollback of a transaction that never began fires no event,
    # and the request would outlive it
    db.session.connection()
    request_id = logs.current_request_id()
    row = None
    if _uses_outbox(current_app):
        row = outbox.OutboxJob(id=str(uuid.uuid4()), name=name, kwargs=kwargs, request_id=request_id, run_at=run_at)
        db.session.add(row)
    db.session.info.setdefault(PENDING_KEY, []).append((row, name, kwargs, request_id, run_at))


def _uses_outbox(app: Flask) -> bool:
    return app.config["MUTIROES"].uses_redis


def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if not pending or not has_app_context():
        return
    flask_app = current_app._get_current_object()
    if _uses_outbox(flask_app):
        # only rows this commit made durable (a row expunged by a rollback is no longer persistent)
        committed = [
            (row.id, name, kwargs, request_id, run_at)
            for row, name, kwargs, request_id, run_at in pending
            if sa.inspect(row).persistent
        ]
        outbox.push_after_commit(flask_app, committed)
        return
    for _row, name, kwargs, request_id, run_at in pending:
        delay = (run_at - utcnow()).total_seconds() if run_at is not None else 0.0
        runner.start_thread(flask_app, name, kwargs, request_id, delay=delay)


def _drop_after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(PENDING_KEY, None)


LISTENERS = (("after_commit", _dispatch_after_commit), ("after_soft_rollback", _drop_after_rollback))


def init_app(_app: Flask) -> None:
    """Send requested jobs once their transaction commits, from every session of the process (requests, jobs, CLI)."""
    for name, listener in LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
