"""A job carries the id of the request that caused it: on its outbox row, on the RQ job, in the worker's lines."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.jobs import queues
from mutiroes.jobs.outbox import OutboxJob, relay
from mutiroes.models import db
from tests.jobs.conftest import register

CAUSE = {"X-Request-Id": "abc123"}


def outbox_rows(app) -> list[OutboxJob]:
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxJob).order_by(OutboxJob.created_at)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def job_lines(log_lines, name: str) -> list[dict]:
    return [line for line in log_lines() if line["logger"] == "mutiroes.jobs.runner" and line.get("job") == name]


def test_a_registration_stores_its_request_id_on_the_outbox_row_and_the_rq_job(jobs_client, jobs_app, rq_connection):
    assert register(jobs_client, "ana_pedido", headers=CAUSE).status_code == 201

    [row] = outbox_rows(jobs_app)
    assert (row.name, row.request_id) == ("send_welcome_email", "abc123")
    queued = queues.queue(jobs.EMAILS, rq_connection).fetch_job(row.id)
    assert queued.meta["request_id"] == "abc123"
    assert queued.kwargs == {"user_id": row.kwargs["user_id"]}  # the job function still takes ids only


def test_the_worker_running_the_welcome_email_logs_with_the_request_id(jobs_client, jobs_app, sink, work, log_lines):
    assert register(jobs_client, "bia_pedido", headers=CAUSE).status_code == 201
    [row] = outbox_rows(jobs_app)
    work()

    [message] = sink.wait_for(1)
    assert message["To"] == "bia_pedido@example.org"
    [done] = job_lines(log_lines, "send_welcome_email")
    assert done["message"] == f"job send_welcome_email done in {done['duration_ms']:.1f} ms"
    assert (done["level"], done["request_id"], done["job_id"]) == ("INFO", "abc123", row.id)
    assert isinstance(done["duration_ms"], float) and done["duration_ms"] >= 0
    assert done["replica"]
    # the request's own lines carry the same id
    [access] = [line for line in log_lines() if line["logger"] == "mutiroes.access"]
    assert (access["route"], access["status"], access["request_id"]) == ("/api/users/register/", 201, "abc123")


def test_a_failing_job_logs_its_failure_and_rqs_traceback_with_the_request_id(jobs_client, sink, work, log_lines):
    sink.stop()
    assert register(jobs_client, "caio_pedido", headers=CAUSE).status_code == 201
    work()

    [failed] = job_lines(log_lines, "send_welcome_email")
    assert failed["message"] == f"job send_welcome_email failed after {failed['duration_ms']:.1f} ms"
    assert (failed["level"], failed["request_id"]) == ("ERROR", "abc123")
    assert "Connection refused" in failed["error"]
    rq_errors = [line for line in log_lines() if line["logger"] == "rq.worker" and line["level"] == "ERROR"]
    assert rq_errors and {line["request_id"] for line in rq_errors} == {"abc123"}


def test_a_row_the_relay_pushes_later_keeps_its_request_id(jobs_client, jobs_app, redis_server, rq_connection):
    redis_server.stop()
    try:
        assert register(jobs_client, "davi_pedido", headers=CAUSE).status_code == 201
    finally:
        redis_server.start()
    [row] = outbox_rows(jobs_app)
    assert row.enqueued_at is None and row.request_id == "abc123"

    assert relay(jobs_app, grace_seconds=0) == 1
    assert queues.queue(jobs.EMAILS, rq_connection).fetch_job(row.id).meta["request_id"] == "abc123"


def test_a_job_no_request_caused_has_a_null_request_id(jobs_app, work, log_lines):
    with jobs_app.app_context():
        jobs.request("cleanup_expired_events")
        db.session.commit()
        db.session.remove()
    [row] = outbox_rows(jobs_app)
    assert row.request_id is None
    work()

    [done] = job_lines(log_lines, "cleanup_expired_events")
    assert done["message"].startswith("job cleanup_expired_events done in ")
    assert done["request_id"] is None
