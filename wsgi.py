"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` (configuration from MUTIROES_* variables)."""

from mutiroes import create_app

app = create_app()
