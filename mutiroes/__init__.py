"""Mutirões REST API: ``create_app`` builds the Flask application; importing opens no connection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask
from flask_cors import CORS
from flask_migrate import Migrate
from werkzeug.middleware.proxy_fix import ProxyFix

from mutiroes import commands
from mutiroes.config import Config
from mutiroes.events import sqlfunctions
from mutiroes.jobs import cli as jobs_cli
from mutiroes.jobs import dispatch as job_dispatch
from mutiroes.jobs.metrics import JobsCollector
from mutiroes.models import db
from mutiroes.platform import database, logs, metrics
from mutiroes.platform.redis import redis
from mutiroes.version import __version__
from mutiroes.web import auth, cache, dashboard, docs, fastpath, headers, media, parsing, request_id, retry
from mutiroes.web.api import Api
from mutiroes.web.routes import BLUEPRINTS
from mutiroes.web.routing import IdConverter, id_param_schema

__all__ = ["__version__", "create_app"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure(config)
    app = Flask(__name__, instance_path=config.instance_path, static_folder=None)
    app.config.update(_flask_settings(config))
    # Every route answers with and without its trailing slash, without a redirect (redirects lose POST bodies).
    app.url_map.strict_slashes = False
    app.url_map.converters["id"] = IdConverter  # <id:...>: a positive integer, else no route matches (404)
    # JSON as the contract shows it: fields in schema order, Portuguese text as UTF-8 rather than \u escapes
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS))
    redis.init_app(app)
    sqlfunctions.init_app(app)  # SQLite twins of the SQL functions the event queries call

    # What runs around every request and every unit of work, in one place:
    request_id.init_app(app)  # first in, last out: an id for every log line and the answer; one access line
    headers.init_app(app)  # security headers on every answer, with or without nginx in front
    parsing.init_app(app)  # each route's body limit, applied before anything reads the body
    metrics.init_app(app, collectors=[JobsCollector(app)])  # counts and times every answer; serves /metrics
    auth.init_app(app)  # a token counts only while its login session is live
    database.init_app(app)  # connections through the database breaker; notes when a unit of work wrote
    fastpath.init_app(app)  # cache hits of anonymous event reads answered before all of this, with id and metrics
    cache.init_app(app)  # a commit invalidates the cached answers of what it wrote: per event, lists when they move
    job_dispatch.init_app(app)  # requested jobs leave only once their transaction commits
    CORS(
        app,
        resources={r"/api/*": {"origins": list(config.cors_origins)}},
        supports_credentials=False,
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After", request_id.HEADER],
        max_age=600,
    )

    api = Api(app)  # the OpenAPI document, and the one error handler (web.errors)
    api.register_converter(IdConverter, id_param_schema)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    media.init_app(app)
    docs.init_app(app)  # Swagger UI's files for /api/docs/
    dashboard.init_app(app)
    retry.init_app(app)  # every view is one unit of work, retried on transient database errors

    jobs_cli.init_app(app)
    commands.init_app(app)
    if config.trusted_proxies:
        hops = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return app


def _flask_settings(config: Config) -> dict:
    engine_options: dict = {"pool_pre_ping": True}
    if config.database_url.startswith("sqlite"):
        engine_options["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        engine_options.update(
            pool_size=config.db_pool_size,
            max_overflow=config.db_max_overflow,
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={
                "connect_timeout": config.db_connect_timeout,
                "application_name": config.service_name,
                # the server gives up on a statement when the client would (platform.database)
                "options": f"-c statement_timeout={config.db_statement_timeout_ms}",
            },
        )
    return {
        "MUTIROES": config,
        "SECRET_KEY": config.secret_key,
        "SQLALCHEMY_DATABASE_URI": config.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "JWT_SECRET_KEY": config.secret_key,
        "JWT_ACCESS_TOKEN_EXPIRES": dt.timedelta(minutes=config.access_token_minutes),
        "JWT_REFRESH_TOKEN_EXPIRES": dt.timedelta(days=config.refresh_token_days),
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_BLOCKLIST_ENABLED": True,
        # the largest body of any route (an upload plus multipart framing); each route's own, smaller limit is set
        # per request (web.parsing). Bodies past it are refused with 413 before they are read.
        "MAX_CONTENT_LENGTH": config.max_upload_bytes + parsing.UPLOAD_FRAMING_BYTES,
        "API_TITLE": "Mutirões API",
        "API_VERSION": __version__,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs/",
        "OPENAPI_SWAGGER_UI_URL": docs.ASSETS_URL,
        # no call to the public validator from the docs page (Swagger UI's default would add one)
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
        "API_SPEC_OPTIONS": {
            "info": {
                "description": (
                    "REST API of Mutirões, the platform for community environmental volunteer actions. "
                    "Errors use the Django REST Framework shape: 400 bodies map each field to a list of "
                    'messages (non_field_errors for the rest); every other error is {"detail": ...}. '
                    "Every path also answers without its trailing slash. "
                    'Numbers also accept numeric strings ("7", "35.5"); anything else is a 400 on the field. '
                    "A write may send back the representation it got: its read-only fields are ignored, any other "
                    "unknown field is a 400. Checks run in DRF's order: 401, then 403/404, then 400. A path id or a "
                    "page that is not a positive integer is 404. JSON bodies: at most 64 KiB (1 MiB for an event "
                    "sent back; uploads 10 MiB), 32 levels deep. The decisions where the contract is silent are in "
                    "docs/contract.md."
                )
            },
        },
    }
