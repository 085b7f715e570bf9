"""cleanup_expired_events (the parts that exist now) and the `flask jobs` commands."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.jobs import queues
from mutiroes.jobs.outbox import OutboxJob
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import AuthSession, RefreshToken


def test_cleanup_purges_sessions_and_tokens_past_expiry_only(jobs_app, make_user):
    user = make_user()
    now = utcnow()
    past, future = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    with jobs_app.app_context():
        db.session.add_all(
            [
                AuthSession(id="a" * 32, user_id=user["id"], expires_at=past),  # expired
                AuthSession(id="b" * 32, user_id=user["id"], expires_at=past, revoked_at=past, revoked_reason="logout"),
                # revoked but not expired: kept, so reuse of its refresh tokens is still recognised
                AuthSession(
                    id="c" * 32, user_id=user["id"], expires_at=future, revoked_at=now, revoked_reason="logout"
                ),
                AuthSession(id="d" * 32, user_id=user["id"], expires_at=future),  # live
            ]
        )
        db.session.flush()
        db.session.add_all(
            [
                RefreshToken(jti="t-expired", session_id="d" * 32, expires_at=past),
                RefreshToken(jti="t-live", session_id="d" * 32, expires_at=future),
                RefreshToken(jti="t-of-expired-session", session_id="a" * 32, expires_at=future),
            ]
        )
        db.session.add(
            OutboxJob(
                id="old-row",
                name="cleanup_expired_events",
                kwargs={},
                created_at=now - dt.timedelta(days=30),
                enqueued_at=now - dt.timedelta(days=30),
            )
        )
        db.session.add(
            OutboxJob(
                id="pending-row", name="cleanup_expired_events", kwargs={}, created_at=now - dt.timedelta(days=30)
            )
        )
        db.session.commit()

        counts = jobs.run_now("cleanup_expired_events")
        assert counts == {
            "completed_events": 0,
            "stale_drafts": 0,
            "ended_reports_credited": 0,
            "expired_sessions": 3,
            "old_account_tokens": 0,
            "pushed_outbox_rows": 1,
            "old_email_deliveries": 0,
        }
        assert set(db.session.scalars(sa.select(AuthSession.id))) == {"c" * 32, "d" * 32}
        assert set(db.session.scalars(sa.select(RefreshToken.jti))) == {"t-live"}
        # a row never pushed is never purged: nothing is lost
        # (the recent row is make_user's welcome email)
        remaining = set(db.session.scalars(sa.select(OutboxJob.id)))
        assert "pending-row" in remaining and "old-row" not in remaining and len(remaining) == 2
        assert jobs.run_now("cleanup_expired_events") == {
            "completed_events": 0,
            "stale_drafts": 0,
            "ended_reports_credited": 0,
            "expired_sessions": 0,
            "old_account_tokens": 0,
            "pushed_outbox_rows": 0,
            "old_email_deliveries": 0,
        }
        db.session.remove()


def test_cli_runs_a_job_now_with_typed_arguments(jobs_app, sink, make_user):
    user = make_user(username="joana_cli")
    runner = jobs_app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "send_welcome_email", f"user_id={user['id']}"])
    assert result.exit_code == 0, result.output
    assert "send_welcome_email(user_id=" in result.output and "'sent'" in result.output
    [message] = sink.wait_for(1)
    assert message["To"] == "joana_cli@example.org"

    result = runner.invoke(args=["jobs", "run", "cleanup_expired_events"])
    assert result.exit_code == 0 and "expired_sessions" in result.output


def test_cli_refuses_unknown_jobs_and_malformed_arguments(jobs_app):
    runner = jobs_app.test_cli_runner()
    unknown = runner.invoke(args=["jobs", "run", "no_such_job"])
    assert unknown.exit_code == 2 and "unknown job" in unknown.output
    malformed = runner.invoke(args=["jobs", "run", "send_welcome_email", "user_id"])
    assert malformed.exit_code == 2 and "expected name=value" in malformed.output


def test_cli_enqueue_schedule_list_and_relay(jobs_app, rq_connection):
    runner = jobs_app.test_cli_runner()
    queued = runner.invoke(args=["jobs", "run", "--enqueue", "cleanup_expired_events"])
    assert queued.exit_code == 0, queued.output
    assert queues.queue(jobs.PERIODIC, rq_connection).count == 1

    listed = runner.invoke(args=["jobs", "list"])
    assert "not registered" in listed.output
    assert runner.invoke(args=["jobs", "schedule"]).output.startswith("created: cleanup-expired-events")
    listed = runner.invoke(args=["jobs", "list"])
    assert "cleanup-expired-events" in listed.output and "next run" in listed.output
    assert "America/Sao_Paulo" in listed.output

    relayed = runner.invoke(args=["jobs", "relay"])
    assert relayed.exit_code == 0 and "pushed: 0" in relayed.output
