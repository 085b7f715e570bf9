"""Running a job: inside RQ (the application a worker process binds, the function RQ calls for every job) or, in the
embedded mode, on a short-lived thread of the requesting process.

Either way the job runs under the request id of the request that caused it, so its log lines (and those of the jobs
it requests in turn) carry that id, and it ends with one line, ``job NAME done in …`` or ``job NAME failed after …``,
with its duration.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from flask import Flask
from rq import get_current_job

from mutiroes.jobs import registry
from mutiroes.jobs.outbox import request_id_of
from mutiroes.models import db
from mutiroes.platform import logs

log = logging.getLogger(__name__)

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
    job = get_current_job()
    request_id = request_id_of(job) if job is not None else None
    with bound_app().app_context():
        try:
            # RQ logs the traceback of a failure itself (and retries the job)
            return _run(name, kwargs, request_id=request_id, job_id=job.id if job else None, traceback=False)
        finally:
            db.session.remove()


def start_thread(app: Flask, name: str, kwargs: dict, request_id: str | None, *, delay: float = 0.0) -> None:
    """The embedded mode's runner: ``name(**kwargs)`` on a daemon thread, in its own application context, after
    ``delay`` seconds (a delayed job is lost if the process stops first; the periodic clean-up catches up)."""

    def target():
        with app.app_context():
            try:
                # _run logged the failure with its traceback; nothing is left to do with it on this thread
                with contextlib.suppress(Exception):
                    _run(name, kwargs, request_id=request_id, job_id=None, traceback=True)
            finally:
                db.session.remove()

    if delay > 0:
        timer = threading.Timer(delay, target)
        timer.name, timer.daemon = f"job-{name}", True
        timer.start()
        return
    threading.Thread(target=target, name=f"job-{name}", daemon=True).start()


def _run(name: str, kwargs: dict, *, request_id: str | None, job_id: str | None, traceback: bool):
    with logs.request_id_bound(request_id):
        fields = {"job": name, "job_id": job_id}
        started = time.perf_counter()
        try:
            result = registry.run_now(name, **kwargs)
        except Exception as exc:
            fields.update(duration_ms=_elapsed_ms(started), error=f"{type(exc).__name__}: {exc}")
            log.error("job %s failed after %.1f ms", name, fields["duration_ms"], extra=fields, exc_info=traceback)
            raise
        fields["duration_ms"] = _elapsed_ms(started)
        log.info("job %s done in %.1f ms", name, fields["duration_ms"], extra=fields)
        return result


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
