"""The worker as a real process: it relays the outbox, runs jobs, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from mutiroes.jobs.outbox import OutboxJob
from mutiroes.models import db
from tests.jobs.conftest import ROOT, mail_environ, register


def test_worker_process_relays_pending_rows_runs_them_and_stops_on_sigterm(
    jobs_app, jobs_client, redis_server, sink, smtp_sink
):
    # a registration while Redis is down leaves its welcome email in the outbox only
    redis_server.stop()
    try:
        assert register(jobs_client, "lia_worker").status_code == 201
    finally:
        redis_server.start()

    settings = jobs_app.config["MUTIROES"]
    environ = {
        "PATH": "/usr/bin:/bin",
        "MUTIROES_DATABASE_URL": settings.database_url,
        "MUTIROES_REDIS_URL": settings.redis_url,
        "MUTIROES_SECRET_KEY": settings.secret_key,
        "MUTIROES_LOG_LEVEL": "WARNING",
        "MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS": "1",
        **mail_environ(smtp_sink),
    }
    worker = subprocess.Popen([sys.executable, "-m", "workers.worker"], cwd=ROOT, env=environ)
    try:
        [message] = sink.wait_for(1, timeout=30)
        assert message["To"] == "lia_worker@example.org"
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert time.monotonic() - started < 30
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    with jobs_app.app_context():
        [row] = db.session.scalars(db.select(OutboxJob)).all()
        assert row.enqueued_at is not None
        db.session.remove()
