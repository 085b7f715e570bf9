"""Mutirões REST API: ``create_app`` builds the Flask application; importing opens no connection."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from mutiroes.config import Config

__version__ = "0.1.0"


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, instance_path=config.instance_path, static_folder=None)
    # Every route answers with and without its trailing slash, without a redirect (redirects lose POST bodies).
    app.url_map.strict_slashes = False
    # JSON as the contract shows it: fields in schema order, Portuguese text as UTF-8 rather than \u escapes
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    _configure(app, config)

    from mutiroes import (  # noqa: F401 - mail and outbox define models
        cli,
        dashboard,
        extensions,
        health,
        jobs_cli,
        mail,
        media,
        metrics,
        outbox,
        resilience,
    )
    from mutiroes.auth import init_jwt
    from mutiroes.content.routes import blp as content_blp
    from mutiroes.events.routes import blp as events_blp
    from mutiroes.impact.routes import impact_blp, report_blp, user_blp
    from mutiroes.routing import IdConverter, id_param_schema
    from mutiroes.users.routes import blp as users_blp
    from mutiroes.users.routes import token_blp

    app.url_map.converters["id"] = IdConverter  # <id:...>: a positive integer, or 400

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=_migrations_dir())
    extensions.jwt.init_app(app)
    extensions.redis.init_app(app)
    extensions.cors.init_app(
        app,
        resources={r"/api/*": {"origins": list(config.cors_origins)}},
        supports_credentials=False,
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    extensions.api.init_app(app)
    extensions.api.register_converter(IdConverter, id_param_schema)
    extensions.api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    init_jwt(app)
    for blueprint in (
        health.blp,
        token_blp,
        users_blp,
        events_blp,
        content_blp,
        report_blp,
        user_blp,
        impact_blp,
    ):
        extensions.api.register_blueprint(blueprint)
    cli.init_app(app)
    media.init_app(app)
    jobs_cli.init_app(app)
    dashboard.init_app(app)
    resilience.init_app(app)
    metrics.init_app(app)
    resilience.wrap_views(app)

    if config.trusted_proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=config.trusted_proxies,
            x_proto=config.trusted_proxies,
            x_host=config.trusted_proxies,
            x_port=config.trusted_proxies,
        )
    return app


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _configure(app: Flask, config: Config) -> None:
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine_options: dict = {"pool_pre_ping": True}
    if config.database_url.startswith("sqlite"):
        engine_options["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        engine_options.update(
            pool_size=config.db_pool_size,
            max_overflow=config.db_max_overflow,
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={"connect_timeout": config.db_connect_timeout, "application_name": config.service_name},
        )
    app.config.update(
        MUTIROES=config,
        SECRET_KEY=config.secret_key,
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        JWT_SECRET_KEY=config.secret_key,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(minutes=config.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=dt.timedelta(days=config.refresh_token_days),
        JWT_TOKEN_LOCATION=["headers"],
        JWT_BLOCKLIST_ENABLED=True,
        # bodies past the upload limit (plus multipart framing) are refused with 413 before they are read
        MAX_CONTENT_LENGTH=config.max_upload_bytes + 256 * 1024,
        API_TITLE="Mutirões API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs/",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "REST API of Mutirões, the platform for community environmental volunteer actions. "
                    "Errors use the Django REST Framework shape: 400 bodies map each field to a list of "
                    'messages (non_field_errors for the rest); every other error is {"detail": ...}. '
                    "Every path also answers without its trailing slash."
                )
            },
        },
    )
