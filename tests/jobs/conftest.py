"""Fixtures of the jobs tests: the real SMTP sink process, an app that mails through it, in-process RQ workers."""

from __future__ import annotations

import email
import email.policy
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask_migrate import upgrade

from mutiroes import create_app
from mutiroes.jobs.worker import build_worker
from mutiroes.platform.redis import worker_connection
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SMTPSink:
    """``python -m workers.smtp_sink`` as a child process; every received message is a file in ``directory``."""

    directory: Path
    port: int
    options: list[str] = field(default_factory=list)  # e.g. --tls starttls --cert C --key K --auth USER:PASSWORD
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workers.smtp_sink", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--dir", str(self.directory), *self.options],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in self.files()]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.files()) < count:
            time.sleep(0.05)
        return self.messages()

    def clear(self) -> None:
        for path in self.directory.glob("*.eml"):
            path.unlink()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SMTPSink(directory=Path(tempfile.mkdtemp(prefix="mutiroes-smtp-")), port=free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def sink(smtp_sink):
    """The running SMTP sink, emptied for this test (and started again if a test stopped it)."""
    if smtp_sink.process is None:
        smtp_sink.start()
    smtp_sink.clear()
    yield smtp_sink
    if smtp_sink.process is None:
        smtp_sink.start()


def mail_environ(smtp_sink) -> dict[str, str]:
    return {
        "MUTIROES_SMTP_HOST": "127.0.0.1",
        "MUTIROES_SMTP_PORT": str(smtp_sink.port),
        "MUTIROES_SMTP_TIMEOUT_SECONDS": "3",
        "MUTIROES_JOB_RETRY_INTERVALS": "1,1",
        "MUTIROES_OUTBOX_RELAY_GRACE_SECONDS": "0",
        "MUTIROES_SITE_URL": "https://mutiroes.example.org",
    }


@pytest.fixture(scope="session")
def jobs_app(app, make_config, smtp_sink):
    """An app on the test PostgreSQL and Redis that mails through the SMTP sink (``app`` migrated the schema)."""
    application = create_app(make_config(environ=mail_environ(smtp_sink)))
    application.config["TESTING"] = True
    with application.app_context():
        upgrade()
    return application


@pytest.fixture
def jobs_client(jobs_app):
    return jobs_app.test_client()


@pytest.fixture
def work(jobs_app):
    """Run a real RQ worker in burst mode in this process until the queues are empty (due retries included)."""

    def run(rounds: int = 1, pause: float = 0.0) -> None:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for index in range(rounds):
                if index:
                    time.sleep(pause)
                worker = build_worker(jobs_app)
                try:
                    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
                finally:
                    # the worker's connections and its scheduler's, closed here rather than by the collector at
                    # some later moment (an unclosed socket is a ResourceWarning, an error in this suite)
                    if worker.scheduler is not None:
                        worker.scheduler.connection.close()
                    worker.connection.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    return run


@pytest.fixture
def rq_connection(jobs_app):
    connection = worker_connection(jobs_app.config["MUTIROES"])
    yield connection
    connection.close()


def register(client, username: str, *, headers: dict | None = None, **extra):
    response = client.post(
        "/api/users/register/",
        json={
            "username": username,
            "email": f"{username}@example.org",
            "password": "rio-limpo-2026",
            "password_confirm": "rio-limpo-2026",
            **extra,
        },
        headers=headers,
    )
    return response


@pytest.fixture(autouse=True)
def _empty_redis_after_test(jobs_app, redis_server):
    """Queues, registries and schedules of one test never leak into the next."""
    yield

    if redis_server.process is None:
        redis_server.start()
    connection = worker_connection(jobs_app.config["MUTIROES"])
    connection.flushdb()
    connection.close()
