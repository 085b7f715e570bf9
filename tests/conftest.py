"""Test session: a private PostgreSQL and Redis, the schema built by the real migrations, a clean slate per test."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import secrets

import psycopg2
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from mutiroes import create_app
from mutiroes.config import Config
from mutiroes.models import db
from mutiroes.platform import logs
from mutiroes.timeutil import utcnow
from mutiroes.users import service as users
from tests.services import Gunicorn, Postgres, Redis

# tables whose rows come from the migrations (seed data) and survive between tests
SEEDED_TABLES = {"alembic_version", "event_categories", "badges"}


@pytest.fixture(scope="session")
def postgres():
    instance = Postgres.create()
    yield instance
    instance.destroy()


@pytest.fixture(scope="session")
def redis_server():
    instance = Redis.create()
    yield instance
    instance.destroy()


@pytest.fixture(scope="session")
def secret_key() -> str:
    return secrets.token_urlsafe(48)


@pytest.fixture(scope="session")
def make_config(postgres, redis_server, secret_key, tmp_path_factory):
    """Build a Config for the test services; keyword overrides replace single settings."""

    def build(**overrides) -> Config:
        environ = {
            "MUTIROES_DATABASE_URL": postgres.url(),
            "MUTIROES_REDIS_URL": redis_server.url,
            "MUTIROES_SECRET_KEY": secret_key,
            # cheap hashes keep the suite fast; production uses the defaults (argon2id, t=3, m=64 MiB)
            "MUTIROES_ARGON2_TIME_COST": "1",
            "MUTIROES_ARGON2_MEMORY_COST_KIB": "1024",
            "MUTIROES_LOG_LEVEL": "WARNING",
        }
        environ.update({k: str(v) for k, v in overrides.pop("environ", {}).items()})
        overrides.setdefault("instance_path", str(tmp_path_factory.mktemp("instance")))
        return Config.from_env(environ, **overrides)

    return build


@pytest.fixture(scope="session")
def app(make_config):
    app = create_app(make_config())
    app.config["TESTING"] = True
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts from the migrated schema with its seed rows, and an empty Redis."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        tables = [t for t in db.metadata.sorted_tables if t.name not in SEEDED_TABLES]
        inspector = sa.inspect(db.engine)
        existing = set(inspector.get_table_names())
        names = ", ".join(f'"{t.name}"' for t in tables if t.name in existing)
        with db.engine.begin() as connection:
            if names:
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        client = app.extensions["mutiroes_redis"]["client"]
        if client is not None:
            client.flushdb()
        app.extensions.pop("mutiroes_throttle_counters", None)


@pytest.fixture
def client(app):
    return app.test_client()


_sequence = itertools.count(1)


@pytest.fixture
def make_user(app):
    """Create a user through the service layer (verified, unless ``verified=False``); returns (user_id, username,
    email, password)."""

    def build(**fields):
        n = next(_sequence)
        username = fields.pop("username", f"voluntaria{n}")
        email = fields.pop("email", f"{username}@example.org")
        password = fields.pop("password", "caminhada-verde-42")
        # verified unless asked otherwise: only verified accounts are credited hours, badges and ranks
        verified = fields.pop("verified", True)
        with app.app_context():
            user = users.create(username=username, email=email, password=password)
            user.email_verified_at = utcnow() if verified else None
            for name, value in fields.items():
                setattr(user, name, value)
            db.session.commit()
            user_id = user.id
            db.session.remove()
        return {"id": user_id, "username": username, "email": email, "password": password}

    return build


@pytest.fixture
def login(client):
    """Log in over HTTP; returns the token pair."""

    def do(user: dict) -> dict:
        response = client.post("/api/token/", json={"email": user["email"], "password": user["password"]})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return do


def bearer(tokens_or_access) -> dict[str, str]:
    access = tokens_or_access["access"] if isinstance(tokens_or_access, dict) else tokens_or_access
    return {"Authorization": f"Bearer {access}"}


@pytest.fixture
def auth_headers(make_user, login):
    """A fresh user and the Authorization header of a live login."""
    user = make_user()
    return bearer(login(user))


@pytest.fixture
def database_lost_after_commit(app):
    """Within the block, the database "goes away" right after the first commit: every later statement fails as a
    lost server does. A write whose answer still needed the database after its commit would report an error for a
    write that was stored."""

    @contextlib.contextmanager
    def lost():
        state = {"committed": False, "refused": []}

        def commit(_connection):
            state["committed"] = True

        def execute(_connection, _cursor, statement, *_args):
            if state["committed"]:
                state["refused"].append(statement.split()[0])
                raise psycopg2.OperationalError("server closed the connection unexpectedly")

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "commit", commit)
        sa.event.listen(engine, "before_cursor_execute", execute)
        try:
            yield state
        finally:
            sa.event.remove(engine, "before_cursor_execute", execute)
            sa.event.remove(engine, "commit", commit)

    return lost


@pytest.fixture
def log_lines():
    """What this process logs during the test, read back as the JSON lines a replica or a worker writes.

    The tests' settings log WARNING and up; our own loggers (``mutiroes.*``) log INFO here, so the access lines and
    the job lines are in.
    """
    stream = io.StringIO()
    capture = logs.handler("json", stream=stream)
    root, ours = logging.getLogger(), logging.getLogger("mutiroes")
    level = ours.level
    root.addHandler(capture)
    ours.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    ours.setLevel(level)
    root.removeHandler(capture)


def pytest_configure(config):
    os.environ.setdefault("MUTIROES_TIME_ZONE", "America/Sao_Paulo")


@pytest.fixture(scope="session")
def live_servers(app, postgres, redis_server, secret_key, tmp_path_factory):
    """Two gunicorn instances of the app (separate processes, two workers each) sharing the test PostgreSQL and
    Redis, the way replicas share them behind nginx. Returns their base URLs."""
    environ = {
        "MUTIROES_DATABASE_URL": postgres.url(),
        "MUTIROES_REDIS_URL": redis_server.url,
        "MUTIROES_SECRET_KEY": secret_key,
        "MUTIROES_ARGON2_TIME_COST": "1",
        "MUTIROES_ARGON2_MEMORY_COST_KIB": "1024",
        "MUTIROES_LOG_LEVEL": "WARNING",
        "MUTIROES_DB_POOL_SIZE": "8",
        "MUTIROES_COMMENTS_PER_MINUTE": "1000",  # the fuzzer comments far more often than a person
        "MUTIROES_INSTANCE_PATH": str(tmp_path_factory.mktemp("live-instance")),
    }
    servers = [Gunicorn.create(environ) for _ in range(2)]
    yield [server.url for server in servers]
    for server in servers:
        server.destroy()
