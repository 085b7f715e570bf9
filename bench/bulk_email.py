"""Bulk email benchmark: N messages (default 10,000) sent by ONE real worker process through the real SMTP sink.

    .venv/bin/python -m bench.bulk_email [--count 10000] [--batch 200] [--mode reminders|raw]

Starts a private PostgreSQL, Redis and the SMTP sink (tests/services.py), migrates, inserts N synthetic users,
runs ``python -m workers.worker --burst`` and reports emails/s as received by the sink.

``--mode reminders`` (the default) is the real path: the N users are confirmed participants of one event starting in
10 hours, and ``send_bulk_event_reminders(event_id, reminder="24h")`` is requested through the outbox exactly as
``send_due_event_reminders`` does. ``--mode raw`` enqueues one job that mails everyone through
``mutiroes.mail.send_bulk`` with the welcome template (the transport alone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask_migrate import upgrade
from redis import Redis
from rq import Queue

from bench.common import row, write_rows
from mutiroes import create_app, jobs, mail
from mutiroes.config import Config
from mutiroes.events.models import Event, EventParticipant
from mutiroes.jobs.runner import bound_app
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User
from tests.services import Postgres, free_port, wait_for_port
from tests.services import Redis as RedisServer

ROOT = Path(__file__).resolve().parent.parent


def mail_everyone(batch_size: int) -> dict:
    """The benchmark's job: one bulk send to every user (runs inside the worker)."""
    app = bound_app()
    with app.app_context():
        rows = db.session.execute(sa.select(User.id, User.email, User.first_name).order_by(User.id)).all()

        def messages():
            for user_id, address, name in rows:
                text, html = mail.render("welcome", name=name, username=address.split("@")[0])
                yield mail.Message(
                    key=mail.delivery_key("bench", user_id, recipient=address),
                    to=address,
                    subject="Lembrete: seu mutirão começa amanhã",
                    text=text,
                    html=html,
                )

        result = mail.send_bulk(messages(), batch_size=batch_size)
        db.session.remove()
    return {"sent": result.sent, "connections": result.connections}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--mode", choices=("reminders", "raw"), default="reminders")
    parser.add_argument("--json", help="also write the table rows to this file")
    args = parser.parse_args()

    postgres, redis_server = Postgres.create(), RedisServer.create()
    sink_dir, sink_port = Path(tempfile.mkdtemp(prefix="mutiroes-bench-smtp-")), free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "workers.smtp_sink", "--port", str(sink_port), "--dir", str(sink_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    environ = {
        "MUTIROES_DATABASE_URL": postgres.url(),
        "MUTIROES_REDIS_URL": redis_server.url,
        "MUTIROES_SECRET_KEY": secrets.token_urlsafe(48),
        "MUTIROES_SMTP_HOST": "127.0.0.1",
        "MUTIROES_SMTP_PORT": str(sink_port),
        "MUTIROES_LOG_LEVEL": "WARNING",
        "MUTIROES_MAIL_BATCH_SIZE": str(args.batch),
    }
    try:
        wait_for_port(sink_port)
        app = create_app(Config.from_env(environ))
        with app.app_context():
            upgrade()
            db.session.execute(
                sa.insert(User),
                [
                    {"username": f"vol{n}", "email": f"vol{n}@example.org", "password_hash": "x", "first_name": f"V{n}"}
                    for n in range(args.count)
                ],
            )
            db.session.commit()
            if args.mode == "reminders":
                request_reminders(args.count)
        if args.mode == "raw":
            Queue("emails", connection=Redis.from_url(redis_server.url)).enqueue(
                "bench.bulk_email.mail_everyone", args.batch, job_timeout=3600
            )
        started = time.monotonic()
        worker = subprocess.run(
            [sys.executable, "-m", "workers.worker", "--burst"], cwd=ROOT, env={**os.environ, **environ}, check=True
        )
        elapsed = time.monotonic() - started
        received = len(list(sink_dir.glob("*.eml")))
        connections = len({p.name.split("-")[0] for p in sink_dir.glob("*.eml")})
        print(f"messages received by the SMTP sink: {received} of {args.count} over {connections} connection(s)")
        print(f"total time (worker start to exit): {elapsed:.2f} s")
        print(f"throughput: {received / elapsed:.0f} emails/s (including the worker's start-up)")
        rows = [row("bulk_email", f"{args.mode}: emails/s, worker start to exit", received / elapsed, "emails/s")]
        arrivals = sorted(p.stat().st_mtime for p in sink_dir.glob("*.eml"))
        if len(arrivals) > 1:
            window = arrivals[-1] - arrivals[0]
            print(f"received by the SMTP server: {received} in {window:.2f} s = {(received - 1) / window:.0f} emails/s")
            rows.append(
                row("bulk_email", f"{args.mode}: emails/s at the SMTP sink", (received - 1) / window, "emails/s")
            )
        write_rows(args.json, rows)
        return 0 if worker.returncode == 0 and received == args.count else 1
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        redis_server.destroy()
        postgres.destroy()
        shutil.rmtree(sink_dir, ignore_errors=True)


def request_reminders(count: int) -> None:
    """One event starting in 10 hours with every user confirmed, and its 24 h reminder requested (outbox + RQ)."""
    start = utcnow() + dt.timedelta(hours=10)
    organizer_id = db.session.scalar(sa.select(sa.func.min(User.id)))  # also a participant: N emails exactly
    event = Event(
        title="Mutirão de limpeza da Praia do Gonzaga",
        description="Benchmark",
        category_id=1,
        organizer_id=organizer_id,
        address="Praia do Gonzaga",
        city="Santos",
        state="SP",
        latitude=-23.9677,
        longitude=-46.3339,
        start_date=start,
        end_date=start + dt.timedelta(hours=3),
        registration_deadline=start,
        max_participants=count,
        confirmed_count=count,
    )
    db.session.add(event)
    db.session.flush()
    db.session.execute(
        sa.insert(EventParticipant).from_select(
            ["event_id", "user_id", "status"],
            sa.select(sa.literal(event.id), User.id, sa.literal("confirmed")),
        )
    )
    jobs.request("send_bulk_event_reminders", event_id=event.id, reminder="24h")
    db.session.commit()


if __name__ == "__main__":
    raise SystemExit(main())
