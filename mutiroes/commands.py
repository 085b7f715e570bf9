"""The app's own CLI commands, registered by ``create_app``: seed, seed-demo, createsuperuser, wait-for-database.

Run them as ``mutiroes <command>`` (``mutiroes.cli``) or ``flask --app mutiroes <command>``.
"""

from __future__ import annotations

import time

import click
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app

from mutiroes import seed
from mutiroes.models import db
from mutiroes.users import service
from mutiroes.users.models import User


def init_app(app: Flask) -> None:
    @app.cli.command("seed")
    def seed_command():
        """Create the event categories (idempotent)."""
        added = seed.seed_categories()
        click.echo(f"categories added: {added}")

    @app.cli.command("seed-demo")
    @click.option("--force", is_flag=True, help="also outside the embedded mode (a demo or test deployment)")
    def seed_demo_command(force):
        """Create the demo data set (idempotent): accounts with a published password, so outside the embedded mode
        only with --force, never by accident on a real deployment."""
        if not current_app.config["MUTIROES"].embedded and not force:
            raise click.ClickException(
                "seed-demo creates accounts whose password is public; this is not the embedded mode "
                "(MUTIROES_DATABASE_URL is set). Run it with --force if this deployment is a demo."
            )
        for login, password in seed.seed_demo():
            click.echo(f"demo login: {login} / {password}")

    @app.cli.command("createsuperuser")
    @click.option("--username", required=True)
    @click.option("--email", required=True)
    @click.password_option()
    def create_superuser(username, email, password):
        """Create a staff account (or make an existing one staff)."""
        user = db.session.scalar(sa.select(User).where(sa.func.lower(User.username) == username.lower()))
        if user is None:
            user = service.create(username=username, email=email, password=password)
        user.is_staff = True
        db.session.commit()
        click.echo(f"staff user: {user.username}")

    @app.cli.command("wait-for-database")
    @click.option("--migrated", is_flag=True, help="also wait until the schema is at the migrations' head")
    @click.option("--timeout", default=300, show_default=True, help="seconds before giving up (exit status 1)")
    def wait_for_database_command(migrated, timeout):
        """Wait until the database answers (and, with --migrated, is at the head of the migrations)."""
        try:
            click.echo(wait_for_database(current_app, migrated=migrated, timeout=timeout))
        except DatabaseNotReady as exc:
            raise click.ClickException(str(exc)) from exc


class DatabaseNotReady(RuntimeError):
    pass


def wait_for_database(app: Flask, *, migrated: bool, timeout: float) -> str:
    """Return once the database answers (and, with ``migrated``, is at the migrations' head), with a line that says
    so; raise :class:`DatabaseNotReady` after ``timeout`` seconds. For the CLI command above, and for the app
    image's long-running processes, which wait with the app they have already made (``workers/startup.py``)."""
    with app.app_context():
        heads = set(ScriptDirectory(app.extensions["migrate"].directory).get_heads())
        deadline = time.monotonic() + timeout
        reason = "not tried yet"
        try:
            while time.monotonic() < deadline:
                try:
                    with db.engine.connect() as connection:
                        current = set(MigrationContext.configure(connection).get_current_heads())
                    if not migrated or current == heads:
                        return "database ready" + (f" at {', '.join(sorted(heads))}" if migrated else "")
                    reason = f"schema at {sorted(current) or 'nothing'}, migrations at {sorted(heads)}"
                except Exception as exc:  # any failure to connect means "not yet"
                    reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                time.sleep(1)
        finally:
            db.engine.dispose()  # a process that forks afterwards (gunicorn) must not hand this pool down
        raise DatabaseNotReady(f"database not ready after {timeout} s: {reason}")
