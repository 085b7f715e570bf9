"""The one way to request background work: ``jobs.request(name, **ids)`` inside a service's unit of work.

A requested job runs only after its transaction commits, and never on the request's thread, so a request never
waits on SMTP. Until the outbox and the RQ workers exist, jobs run on a short-lived thread of this process.
"""

from __future__ import annotations

import importlib
import logging
import threading

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "mutiroes_pending_jobs"

# job name -> "module:function"; every job takes ids only, reloads its state and is idempotent
REGISTRY: dict[str, str] = {
    "send_welcome_email": "mutiroes.users.jobs:send_welcome_email",
    "send_event_notification_email": "mutiroes.events.jobs:send_event_notification_email",
}


def request(name: str, **kwargs) -> None:
    """Ask for ``name(**kwargs)`` to run once the current transaction commits (dropped if it rolls back)."""
    from mutiroes.extensions import db

    if name not in REGISTRY:
        raise KeyError(f"unknown job {name!r}")
    db.session.info.setdefault(PENDING_KEY, []).append((name, kwargs))


def resolve(name: str):
    module_name, function_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def run_now(name: str, **kwargs):
    """Run a job in this process, inside the current app context (CLI, tests, the embedded mode)."""
    return resolve(name)(**kwargs)


def _run_in_thread(app: Flask, name: str, kwargs: dict) -> None:
    def target():
        with app.app_context():
            try:
                run_now(name, **kwargs)
            except Exception:
                log.exception("job %s%r failed", name, kwargs)

    threading.Thread(target=target, name=f"job-{name}", daemon=True).start()


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    flask_app = current_app._get_current_object()
    for name, kwargs in pending:
        _run_in_thread(flask_app, name, kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(PENDING_KEY, None)
