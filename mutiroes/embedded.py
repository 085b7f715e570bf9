"""`make run`: the embedded mode. SQLite under instance/, migrations applied, seeds loaded, one local server.

No Redis, Consul or nginx is needed; jobs run in this process after their transaction commits.
"""

from __future__ import annotations

import argparse
import logging
import os

from flask_migrate import upgrade
from werkzeug.serving import run_simple

from mutiroes import create_app, seed
from mutiroes.config import Config


def prepare(app) -> list[tuple[str, str]]:
    with app.app_context():
        upgrade()
        return seed.seed_demo()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Mutirões in the embedded mode (SQLite, no other service).")
    parser.add_argument("--host", default=os.environ.get("MUTIROES_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MUTIROES_PORT", "5000")))
    args = parser.parse_args(argv)

    config = Config.from_env()
    if not config.embedded:
        parser.error("MUTIROES_DATABASE_URL is set: the embedded mode runs on its own SQLite file only")
    os.makedirs(config.instance_path, exist_ok=True)
    app = create_app(config)
    logins = prepare(app)
    url = f"http://{args.host}:{args.port}"
    print(f"\nMutirões API (embedded mode) at {url}/api/", flush=True)
    print(f"API docs: {url}/api/docs/  ·  OpenAPI: {url}/api/openapi.json", flush=True)
    for login, password in logins:
        print(f"demo login: {login} / {password}", flush=True)
    print(f"database: {config.database_url}\n", flush=True)
    # the app writes one line per request itself (with its request id); the development server's would repeat it
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
