"""The app's own CLI commands: the demo seed is for the embedded mode, or for a deployment that says it is a demo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from mutiroes import create_app
from mutiroes.models import db
from mutiroes.seed import DEMO_USERS
from mutiroes.users.models import User
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def demo_accounts(app) -> int:
    names = [username for username, *_rest in DEMO_USERS]
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username.in_(names)))
        db.session.remove()
    return count


def test_the_demo_seed_refuses_to_run_outside_the_embedded_mode_without_force(app):
    assert not app.config["MUTIROES"].embedded  # the tests' app runs on PostgreSQL
    refused = app.test_cli_runner().invoke(args=["seed-demo"])
    assert refused.exit_code != 0
    assert "--force" in refused.output and "embedded" in refused.output
    assert demo_accounts(app) == 0
    forced = app.test_cli_runner().invoke(args=["seed-demo", "--force"])
    assert forced.exit_code == 0, forced.output
    assert demo_accounts(app) == len(DEMO_USERS)


def test_wait_for_database_says_when_it_is_at_the_head_and_gives_up_saying_why(app, make_config, postgres):
    head = set(ScriptDirectory(app.extensions["migrate"].directory).get_heads())
    ready = app.test_cli_runner().invoke(args=["wait-for-database", "--migrated", "--timeout", "5"])
    assert ready.exit_code == 0, ready.output
    assert ready.output.strip() == f"database ready at {', '.join(sorted(head))}"

    # nothing listens on port 1
    unreachable = create_app(make_config(database_url="postgresql+psycopg2://mutiroes@127.0.0.1:1/mutiroes"))
    refused = unreachable.test_cli_runner().invoke(args=["wait-for-database", "--timeout", "1"])
    assert refused.exit_code == 1
    assert "database not ready after 1 s: OperationalError" in refused.output

    postgres.createdb("wait_unmigrated")
    unmigrated = create_app(make_config(database_url=postgres.url("wait_unmigrated")))
    assert unmigrated.test_cli_runner().invoke(args=["wait-for-database", "--timeout", "2"]).exit_code == 0
    behind = unmigrated.test_cli_runner().invoke(args=["wait-for-database", "--migrated", "--timeout", "1"])
    assert behind.exit_code == 1
    assert "schema at nothing" in behind.output


def test_an_api_master_told_to_wait_listens_only_once_the_schema_is_migrated(
    make_config, postgres, redis_server, secret_key, tmp_path
):
    """The app image's api role: gunicorn's master waits for the migrations with the app it has loaded."""
    postgres.createdb("wait_for_migrate")
    port = free_port()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MUTIROES_")},
        "MUTIROES_DATABASE_URL": postgres.url("wait_for_migrate"),
        "MUTIROES_REDIS_URL": redis_server.url,
        "MUTIROES_SECRET_KEY": secret_key,
        "MUTIROES_BIND": f"127.0.0.1:{port}",
        "MUTIROES_GUNICORN_WORKERS": "1",
        "MUTIROES_INSTANCE_PATH": str(tmp_path),
        "MUTIROES_WAIT_SECONDS": "120",
    }
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
    master = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(5)  # the app loads in about 2 s; then the master waits
        assert master.poll() is None
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()

        migrated = create_app(make_config(database_url=postgres.url("wait_for_migrate")))
        with migrated.app_context():
            upgrade()
        wait_for_port(port, timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readiness/", timeout=5) as answer:
            assert answer.status == 200
    finally:
        master.terminate()
        master.wait(timeout=30)

    # and a database that never answers: the master gives up after its seconds, says why, exits 1
    environ.update(
        MUTIROES_DATABASE_URL="postgresql+psycopg2://mutiroes@127.0.0.1:1/mutiroes", MUTIROES_WAIT_SECONDS="1"
    )
    failed = subprocess.run(
        command,
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "database not ready after 1.0 s" in failed.stderr
