"""The ``mutiroes`` console script: the Flask CLI of ``create_app``, from any directory.

``mutiroes db upgrade``, ``mutiroes seed``, ``mutiroes jobs ...``, ``mutiroes run`` are ``flask --app mutiroes ...``
without having to name the app. The configuration comes from ``MUTIROES_*`` variables only: no ``.env`` file is
read (the compose file's ``.env`` is docker-compose's, not the app's).
"""

from __future__ import annotations

from flask.cli import FlaskGroup

from mutiroes import create_app

cli = FlaskGroup(
    name="mutiroes",
    help="Mutirões: the commands of the API (database migrations, seeds, jobs, a development server).",
    create_app=create_app,
    load_dotenv=False,
)


def main() -> None:
    cli.main(prog_name="mutiroes")
