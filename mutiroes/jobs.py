"""The one way to request background work: ``jobs.request(name, **ids)`` inside a service's unit of work.

With Redis configured, a request is an outbox row (``mutiroes.outbox``) written in the caller's transaction; after
the commit it is pushed to its RQ queue, and the relay pushes whatever Redis could not take at that moment. In the
embedded mode (no ``MUTIROES_REDIS_URL``) the job runs on a short-lived thread of this process right after the
commit. Either way nothing runs before its transaction commits, a rolled-back transaction requests nothing, and a
request never waits on SMTP.

Each job function takes ids, reloads its state, is idempotent, and declares its queue and timeout with
:func:`job`. RQ runs every job through :func:`execute`, which gives it an application context.
"""

from __future__ import annotations

import importlib
import logging
import threading
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "mutiroes_pending_jobs"

# queue names: a worker listens to all three, in this order of priority
EMAILS = "emails"
DEFAULT = "default"
PERIODIC = "periodic"
QUEUES = (EMAILS, DEFAULT, PERIODIC)

# job name -> "module:function"; every job takes ids only, reloads its state and is idempotent
REGISTRY: dict[str, str] = {
    "send_welcome_email": "mutiroes.users.jobs:send_welcome_email",
    "cleanup_expired_events": "mutiroes.maintenance:cleanup_expired_events",
    "send_event_notification_email": "mutiroes.events.jobs:send_event_notification_email",
    "send_bulk_event_reminders": "mutiroes.events.jobs:send_bulk_event_reminders",
    "send_due_event_reminders": "mutiroes.events.jobs:send_due_event_reminders",
    "process_event_report_statistics": "mutiroes.impact.jobs:process_event_report_statistics",
    "update_user_statistics": "mutiroes.impact.jobs:update_user_statistics",
    "check_and_award_badges": "mutiroes.impact.jobs:check_and_award_badges",
    "generate_monthly_impact_report": "mutiroes.impact.jobs:generate_monthly_impact_report",
}


@dataclass(frozen=True)
class JobOptions:
    queue: str = DEFAULT
    timeout: int = 300  # seconds before RQ kills the job and counts a failure
    max_retries: int | None = None  # None: one retry per MUTIROES_JOB_RETRY_INTERVALS entry


def job(*, queue: str = DEFAULT, timeout: int = 300, max_retries: int | None = None):
    """Declare a job function's queue, timeout and retries (read when the job is pushed)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn):
        fn.job_options = JobOptions(queue=queue, timeout=timeout, max_retries=max_retries)
        return fn

    return decorate


def resolve(name: str):
    module_name, function_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def options_for(name: str) -> JobOptions:
    return getattr(resolve(name), "job_options", JobOptions())


def describe(name: str, kwargs: dict) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in sorted(kwargs.items()))
    return f"{name}({arguments})"


def request(name: str, **kwargs) -> None:
    """Ask for ``name(**kwargs)`` to run once the current transaction commits (dropped if it rolls back)."""
    from mutiroes.extensions import db
    from mutiroes.outbox import OutboxJob

    if name not in REGISTRY:
        raise KeyError(f"unknown job {name!r}")
    # begin the transaction now if nothing has yet: a rollback of a transaction that never began fires no event,
    # and the request would outlive it
    db.session.connection()
    row = None
    if _uses_outbox(current_app):
        row = OutboxJob(id=str(uuid.uuid4()), name=name, kwargs=kwargs)
        db.session.add(row)
    db.session.info.setdefault(PENDING_KEY, []).append((row, name, kwargs))


def _uses_outbox(app: Flask) -> bool:
    return app.config["MUTIROES"].redis_url is not None


def run_now(name: str, **kwargs):
    """Run a job in this process, inside the current app context (CLI, tests, the embedded mode)."""
    return resolve(name)(**kwargs)


# --- running inside RQ ---------------------------------------------------------------------------------------------

_worker_app: Flask | None = None
_worker_app_lock = threading.Lock()


def bind_app(app: Flask | None) -> None:
    """Make ``app`` the application RQ jobs of this process run in (the worker does this at start)."""
    global _worker_app
    _worker_app = app


def _app_for_jobs() -> Flask:
    global _worker_app
    if _worker_app is None:
        with _worker_app_lock:
            if _worker_app is None:  # a plain `rq worker`: build the app from the environment
                from mutiroes import create_app

                _worker_app = create_app()
    return _worker_app


def execute(name: str, **kwargs):
    """The function RQ calls for every job: run ``name`` in a fresh application context."""
    from mutiroes.extensions import db

    app = _app_for_jobs()
    with app.app_context():
        try:
            return run_now(name, **kwargs)
        finally:
            db.session.remove()


# --- after commit ----------------------------------------------------------------------------------------------


def _run_in_thread(app: Flask, name: str, kwargs: dict) -> None:
    def target():
        from mutiroes.extensions import db

        with app.app_context():
            try:
                run_now(name, **kwargs)
            except Exception:
                log.exception("job %s%r failed", name, kwargs)
            finally:
                db.session.remove()

    threading.Thread(target=target, name=f"job-{name}", daemon=True).start()


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if not pending or not has_app_context():
        return
    flask_app = current_app._get_current_object()
    if _uses_outbox(flask_app):
        from mutiroes.outbox import push_after_commit

        # only rows this commit made durable (a row expunged by a rollback is no longer persistent)
        committed = [(row.id, name, kwargs) for row, name, kwargs in pending if sa.inspect(row).persistent]
        push_after_commit(flask_app, committed)
        return
    for _row, name, kwargs in pending:
        _run_in_thread(flask_app, name, kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(PENDING_KEY, None)
