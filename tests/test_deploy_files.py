"""Static checks of the deployment files, fast and before any image is built (tests/containers runs them for real)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cluster import NGINX_FILES
from mutiroes.config import Config
from mutiroes.web import parsing

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.distributed.yml"


def compose(*args: str, env_file: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is installed by scripts/install-tools.sh"
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


# Two Patroni nodes, Redis master + replica and three Sentinels since the HA tier (1e7230e).
LONG_RUNNING = {"consul", "gateway", "backend", "worker", "scheduler", "smtp-sink", "prometheus"} | {
    "pg-1",
    "pg-2",
    "redis-1",
    "redis-2",
    "sentinel-1",
    "sentinel-2",
    "sentinel-3",
}


def test_compose_file_is_valid_with_the_example_environment():
    result = compose("config", "-q", env_file=ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    services = set(compose("config", "--services", env_file=ROOT / ".env.example").stdout.split())
    assert services == LONG_RUNNING | {"migrate"}


def test_compose_file_holds_no_secret_and_hands_them_over_as_files():
    text = compose("config", env_file=ROOT / ".env.example").stdout
    assert "replace-me" not in text and "PASSWORD:" not in text.replace("PASSWORD_FILE:", "")
    for variable in (
        "MUTIROES_SECRET_KEY_FILE",
        "MUTIROES_DATABASE_URL_FILE",
        "POSTGRES_PASSWORD_FILE",
        "MUTIROES_SMTP_PASSWORD_FILE",
    ):
        assert f"{variable}: /run/secrets/" in text, variable


def test_every_long_running_service_restarts_and_its_image_proves_its_health():
    config = compose("config", env_file=ROOT / ".env.example").stdout
    assert config.count("restart: unless-stopped") >= len(LONG_RUNNING)
    for name in ("app", "gateway", "consul", "postgres", "redis", "prometheus"):
        dockerfile = (ROOT / "docker" / f"{name}.Dockerfile").read_text()
        assert "HEALTHCHECK" in dockerfile and "\nUSER " in dockerfile, name  # a healthcheck, and not root
    # the worker's and the scheduler's checks look at RQ, not at /proc
    healthcheck = (ROOT / "workers" / "healthcheck.py").read_text()
    assert "last_heartbeat" in healthcheck and "rq:scheduler_instance" in healthcheck


def _nginx_prefix(tmp_path: Path, upstream: str) -> Path:
    prefix = tmp_path / "nginx"
    for sub in ("logs", "run", "tmp", "media"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    for name in NGINX_FILES:
        shutil.copyfile(ROOT / "nginx" / name, prefix / name)
    (prefix / "listen.conf").write_text("listen 127.0.0.1:18080;\n")
    (prefix / "unlimited.conf").write_text("127.0.0.1/32 0;\n")
    (prefix / "upstream.conf").write_text(upstream)
    return prefix


@pytest.mark.parametrize(
    "servers",
    [
        ["server 127.0.0.1:9 down;"],
        ["server 127.0.0.1:8001 max_fails=3 fail_timeout=10s;", "server 127.0.0.1:8002 max_fails=3 fail_timeout=10s;"],
    ],
    ids=["no-replica-fallback", "two-replicas"],
)
def test_nginx_accepts_its_config_with_an_empty_and_a_full_upstream(tmp_path, servers):
    lines = "\n".join(f"    {server}" for server in servers)
    upstream = f"upstream mutiroes_api {{\n    least_conn;\n    zone mutiroes_api 64k;\n{lines}\n}}\n"
    prefix = _nginx_prefix(tmp_path, upstream)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    result = subprocess.run(
        [nginx, "-t", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-g", "error_log stderr;"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_config_keeps_retries_safe_and_body_limits_as_the_api_has_them():
    conf = (ROOT / "nginx" / "nginx.conf").read_text()
    directives = [line.strip() for line in conf.splitlines() if line.strip().startswith("proxy_next_upstream ")]
    assert directives == ["proxy_next_upstream error timeout;"]
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    assert "non_idempotent" not in code and "http_503" not in code

    upload = Config.from_env({}, instance_path="/tmp/unused-instance").max_upload_bytes
    units = {"k": 1024, "m": 1024 * 1024}
    sizes = [int(number) * units[unit] for number, unit in re.findall(r"client_max_body_size (\d+)([km]);", code)]
    default, uploads, representation = sizes
    assert default == parsing.JSON_BODY_MAX_BYTES
    assert representation == parsing.REPRESENTATION_BODY_MAX_BYTES
    assert upload + parsing.UPLOAD_FRAMING_BYTES <= uploads <= upload + 2 * 1024 * 1024


def test_gunicorn_pools_keep_three_replicas_well_under_postgres_max_connections():
    code = (
        "import json, runpy; ns = runpy.run_path('gunicorn.conf.py'); import os; "
        "print(json.dumps({'workers': ns['workers'], 'worker_class': ns['worker_class'], "
        "'preload': ns['preload_app'], 'pool': int(os.environ['MUTIROES_DB_POOL_SIZE']), "
        "'overflow': int(os.environ['MUTIROES_DB_MAX_OVERFLOW']), 'drain_file': os.environ['MUTIROES_DRAIN_FILE']}))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MUTIROES_DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db",
        "MUTIROES_SECRET_KEY": "k" * 48,
        "MUTIROES_BIND": "127.0.0.1:18001",
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    settings = json.loads(out.stdout)
    assert settings["workers"] == 4 and settings["worker_class"] == "sync" and settings["preload"] is True
    per_process = settings["pool"] + settings["overflow"]
    assert 3 * settings["workers"] * per_process <= 100 // 2  # PostgreSQL's default max_connections is 100
    assert settings["drain_file"].endswith("mutiroes-18001.draining")
