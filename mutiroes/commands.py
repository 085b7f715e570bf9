"""The app's own CLI commands, registered by ``create_app``: seed, seed-demo, createsuperuser.

Run them as ``mutiroes <command>`` (``mutiroes.cli``) or ``flask --app mutiroes <command>``.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask

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
    def seed_demo_command():
        """Create the demo data set (idempotent)."""
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
