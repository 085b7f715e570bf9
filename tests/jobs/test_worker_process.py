"""The worker as a real process: it relays the outbox, runs jobs, stops cleanly on SIGTERM, and loses no job Redis
dropped under it."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

from mutiroes.jobs.outbox import OutboxJob
from mutiroes.jobs.worker import build_worker
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


def test_a_job_taken_just_before_redis_fails_goes_back_on_its_queue_and_runs_once(
    jobs_app, jobs_client, redis_server, rq_connection, sink, caplog
):
    assert register(jobs_client, "bia_failover").status_code == 201
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = build_worker(jobs_app)
        worker.bootstrap(logging_level="WARNING")
        taken = worker.dequeue_job_and_maintain_ttl(1)
        assert taken is not None
        job, queue = taken
        assert queue.job_ids == []  # off its queue, held by this worker only

        redis_server.stop()
        # long enough for the heartbeat's retries (about 1 s) to fail before Redis is back, even on a loaded machine
        restarted = threading.Timer(4.0, redis_server.start)
        restarted.start()
        try:
            # what RQ does next: one more heartbeat (outside its wait-for-Redis loop), then the job
            with caplog.at_level(logging.WARNING, logger="mutiroes.jobs.worker"):
                worker.heartbeat()
                worker.execute_job(job, queue)
        finally:
            restarted.join()
        assert "worker heartbeat failed" in caplog.text
        assert f"putting it back on {queue.name}" in caplog.text
        assert sink.messages() == []  # the job did not get to run with Redis gone
        assert queue.job_ids == [job.id]

        worker.teardown()
        worker.connection.close()
        after = build_worker(jobs_app)
        after.work(burst=True, logging_level="WARNING")
        after.connection.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    [message] = sink.wait_for(1)
    assert message["To"] == "bia_failover@example.org"
    time.sleep(0.5)
    assert len(sink.messages()) == 1
