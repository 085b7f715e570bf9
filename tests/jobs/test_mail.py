"""Email through the real SMTP sink: once per delivery key, bulk over one connection, retries when SMTP is down."""

from __future__ import annotations

import datetime as dt
import ssl

import sqlalchemy as sa

from mutiroes import create_app, jobs, mail
from mutiroes.events import ical
from mutiroes.jobs import queues
from mutiroes.mail import smtp
from mutiroes.mail.deliveries import DeliveryStatus
from mutiroes.models import db
from mutiroes.users.models import User
from mutiroes.users.profiles import allows
from tests.jobs.conftest import register


def deliveries(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(mail.EmailDelivery.key, mail.EmailDelivery.status)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_welcome_email_arrives_once_even_when_the_job_runs_twice(jobs_client, jobs_app, sink, work):
    assert register(jobs_client, "eva_welcome", first_name="Eva").status_code == 201
    work()
    [message] = sink.wait_for(1)
    user_id = deliveries(jobs_app)[0][0].split(":")[1]

    # the same job again, requested and run by a worker, then run directly: nothing more is sent
    with jobs_app.app_context():
        jobs.request("send_welcome_email", user_id=int(user_id))
        db.session.commit()
        db.session.remove()
    work()
    with jobs_app.app_context():
        assert jobs.run_now("send_welcome_email", user_id=int(user_id)) == "skipped: already delivered"
        db.session.remove()
    assert len(sink.wait_for(2, timeout=1)) == 1
    assert deliveries(jobs_app) == [(f"welcome:{user_id}:eva_welcome@example.org", DeliveryStatus.SENT)]

    assert message["To"] == "eva_welcome@example.org"
    assert message["Subject"] == "Boas-vindas ao Mutirões!"
    assert message["Content-Language"] == "pt-BR"
    assert message["From"].addresses[0].addr_spec == "nao-responda@mutiroes.org.br"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Olá, Eva!" in text and "https://mutiroes.example.org/eventos" in text
    assert "Olá, Eva!" in html and 'href="https://mutiroes.example.org/eventos"' in html


def test_welcome_job_for_a_deleted_user_ends_cleanly(jobs_app, sink):
    with jobs_app.app_context():
        assert jobs.run_now("send_welcome_email", user_id=999999) == "skipped: no such active user"
        db.session.remove()
    assert sink.files() == []


def test_html_of_a_message_escapes_what_people_typed(jobs_client, jobs_app, sink, work):
    assert register(jobs_client, "fabio_html", first_name="<b>Fábio</b>").status_code == 201
    work()
    [message] = sink.wait_for(1)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;Fábio&lt;/b&gt;" in html and "<b>Fábio</b>" not in html


def test_bulk_send_of_1000_messages_uses_one_connection_and_never_repeats(jobs_app, sink):
    def messages():
        for n in range(1000):
            recipient = f"pessoa{n}@example.org"
            yield mail.Message(
                key=mail.delivery_key("test_bulk", 7, recipient=recipient),
                to=recipient,
                subject="Lembrete: mutirão amanhã",
                text=f"Olá, pessoa {n}!",
                html=f"<p>Olá, pessoa {n}!</p>",
            )

    with jobs_app.app_context():
        result = mail.send_bulk(messages(), batch_size=150)
        db.session.remove()
    assert (result.sent, result.skipped, result.connections) == (1000, 0, 1)
    received = sink.wait_for(1000)
    assert len(received) == 1000
    assert {m["X-Sink-Connection"] for m in received} == {received[0]["X-Sink-Connection"]}
    assert len({m["To"] for m in received}) == 1000
    assert len({m["Message-ID"] for m in received}) == 1000

    # the job runs again (a retry): every key is delivered already, nothing is sent
    with jobs_app.app_context():
        again = mail.send_bulk(messages(), batch_size=150)
        db.session.remove()
    assert (again.sent, again.skipped, again.connections) == (0, 1000, 0)
    assert len(sink.files()) == 1000


def test_smtp_down_retries_then_fails_while_other_jobs_go_on(jobs_client, jobs_app, sink, work, rq_connection):
    sink.stop()
    assert register(jobs_client, "gil_smtp_down").status_code == 201
    with jobs_app.app_context():
        jobs.request("cleanup_expired_events")
        db.session.commit()
        db.session.remove()

    # first run + 2 retries, 1 s apart (MUTIROES_JOB_RETRY_INTERVALS=1,1 here)
    work(rounds=4, pause=1.1)
    emails = queues.queue(jobs.EMAILS, rq_connection)
    periodic = queues.queue(jobs.PERIODIC, rq_connection)
    [failed_id] = emails.failed_job_registry.get_job_ids()
    failed = emails.fetch_job(failed_id)
    assert failed.retries_left == 0
    assert "MailError" in failed.latest_result().exc_string or "ConnectionRefused" in failed.latest_result().exc_string
    assert periodic.finished_job_registry.get_job_ids() != []  # the other job was not held up
    assert deliveries(jobs_app) == []  # the claim was released: a retry may send

    sink.start()
    result = jobs_app.test_cli_runner().invoke(args=["jobs", "requeue-failed"])
    assert result.exit_code == 0, result.output
    assert "requeued: 1" in result.output
    work()
    [message] = sink.wait_for(1)
    assert message["To"] == "gil_smtp_down@example.org"
    assert emails.failed_job_registry.count == 0


def test_an_ical_attachment_reaches_the_recipient(jobs_app, sink):
    start = dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)
    with jobs_app.app_context():
        sent = mail.send(
            mail.Message(
                key=mail.delivery_key("test_ical", 3, recipient="helena@example.org"),
                to="helena@example.org",
                subject="Inscrição confirmada",
                text="Sua inscrição foi confirmada.",
                html="<p>Sua inscrição foi confirmada.</p>",
                attachments=(
                    mail.Attachment(
                        "convite.ics",
                        ical.invitation(
                            ical.Entry(
                                event_id=3,
                                summary="Limpeza da Praia, Santos",
                                start=start,
                                end=start + dt.timedelta(hours=3),
                                status="CONFIRMED",
                                sequence=0,
                                location="Praia do Gonzaga; Santos",
                            ),
                            method=ical.Method.REQUEST,
                            email="helena@example.org",
                            name="Helena",
                        ),
                        "text/calendar; method=REQUEST; charset=utf-8",
                    ),
                ),
            )
        )
        db.session.remove()
    assert sent is True
    [message] = sink.wait_for(1)
    [calendar] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert calendar.get_filename() == "convite.ics"
    body = calendar.get_content()
    body = body.decode() if isinstance(body, bytes) else body
    assert "DTSTART:20261205T110000Z" in body
    assert "SUMMARY:Limpeza da Praia\\, Santos" in body
    assert "LOCATION:Praia do Gonzaga\\; Santos" in body


def test_without_smtp_messages_are_logged_and_still_recorded(app):
    with app.app_context():
        assert app.config["MUTIROES"].smtp_host is None
        message = mail.Message(key="test_log:1:ivo@example.org", to="ivo@example.org", subject="Oi", text="Oi")
        assert mail.send(message) is True
        assert mail.send(message) is False
        db.session.remove()
    assert deliveries(app) == [("test_log:1:ivo@example.org", DeliveryStatus.LOGGED)]


def test_notification_preferences_are_read_with_defaults(app, make_user):
    user = make_user(notification_preferences={"event_reminders": False})
    with app.app_context():
        row = db.session.get(User, user["id"])
        assert allows(row, "event_reminders") is False
        assert allows(row, "event_updates") is True  # missing key: the default
        assert allows(row, "newsletter") is False
        row.is_active = False
        assert allows(row, "event_updates") is False
        db.session.rollback()
        db.session.remove()


def test_a_line_break_in_a_subject_cannot_add_headers(jobs_app):
    with jobs_app.app_context():
        raw = mail.build(
            mail.Message(key="k:1:a@example.org", to="a@example.org", subject="Oi\r\nBcc: x@evil.example", text="."),
            jobs_app.config["MUTIROES"],
        )
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert not any(line.startswith(b"Bcc:") for line in headers)
    assert b"Subject: Oi Bcc: x@evil.example" in headers


def test_every_smtp_session_of_a_process_shares_one_tls_context():
    # loading the CA certificates was most of a notification job's CPU when each session made its own context
    first = smtp.tls_context()
    assert first is smtp.tls_context()
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname


def test_the_jobs_commands_without_redis_say_which_settings_give_it(make_config):
    without = create_app(make_config(redis_url=None))
    result = without.test_cli_runner().invoke(args=["jobs", "requeue-failed"])
    assert result.exit_code == 1
    assert "MUTIROES_REDIS_URL or MUTIROES_REDIS_SENTINELS" in result.output
