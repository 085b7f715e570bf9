"""The pt-BR email templates (``templates/<name>.txt`` and ``.html``), rendered with Jinja."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"

_environment: Environment | None = None


def _templates() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _environment


def render(template: str, **context) -> tuple[str, str]:
    """Render ``<template>.txt`` and ``<template>.html`` (pt-BR) with ``site_url`` added to the context."""
    context.setdefault("site_url", current_app.config["MUTIROES"].site_url)
    environment = _templates()
    text = environment.get_template(f"{template}.txt").render(**context)
    html = environment.get_template(f"{template}.html").render(**context)
    return text, html
