"""WSGI entry point: ``gunicorn wsgi:app`` (configuration comes from MUTIROES_* environment variables)."""

from mutiroes import create_app

app = create_app()
