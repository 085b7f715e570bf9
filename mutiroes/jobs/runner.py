"""Running a job inside RQ: the application a worker process binds, and the function RQ calls for every job."""

from __future__ import annotations

from flask import Flask

from mutiroes.jobs import registry
from mutiroes.models import db

_worker_app: Flask | None = None


def bind_app(app: Flask | None) -> None:
    """Make ``app`` the application RQ jobs of this process run in (the worker does this at start)."""
    global _worker_app
    _worker_app = app


def bound_app() -> Flask:
    """The application this worker process runs jobs in."""
    if _worker_app is None:
        raise RuntimeError("no application bound: run jobs with `python -m workers.worker`, not a plain `rq worker`")
    return _worker_app


def execute(name: str, **kwargs):
    """The function RQ calls for every job: run ``name`` in a fresh application context."""
    with bound_app().app_context():
        try:
            return registry.run_now(name, **kwargs)
        finally:
            db.session.remove()
