"""Swagger UI's files for ``/api/docs/``, served by the app itself so the docs page works offline.

The files come from the ``swagger-ui-bundle`` package, pinned in setup.cfg and the lock. Their URL names the Swagger
UI version, so a browser may keep them for a long time: a new version is a new URL.
"""

from __future__ import annotations

from flask import Flask, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

SWAGGER_UI_VERSION = swagger_ui_path.name.removeprefix("swagger-ui-")
# flask-smorest's page loads "{OPENAPI_SWAGGER_UI_URL}swagger-ui-bundle.js" and the rest from here
ASSETS_URL = f"/api/docs/swagger-ui/{SWAGGER_UI_VERSION}/"
# what flask-smorest's page references; the bundle's own index.html and initializer (the petstore demo) are not served
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"})
ONE_YEAR = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    def swagger_ui_asset(filename: str):
        if filename not in ASSETS:
            abort(404)
        response = send_from_directory(swagger_ui_path, filename, max_age=ONE_YEAR)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    app.add_url_rule(f"{ASSETS_URL}<filename>", "swagger_ui_asset", swagger_ui_asset, methods=["GET"])
