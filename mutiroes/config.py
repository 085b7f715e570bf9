"""One typed configuration read from ``MUTIROES_*`` environment variables.

The embedded mode (``MUTIROES_DATABASE_URL`` unset) needs nothing at all: a SQLite file and a JWT signing key are
created under the instance folder. Every other mode must be given its secrets; a missing one stops the start-up.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """Raised at start-up when the environment does not describe a runnable configuration."""


def _env(name: str, environ: dict[str, str]) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _int(name: str, environ: dict[str, str], default: int, *, minimum: int = 0) -> int:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _int_list(name: str, environ: dict[str, str], default: tuple[int, ...]) -> tuple[int, ...]:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be comma-separated integers, got {raw!r}") from exc
    if any(value < 0 for value in values):
        raise ConfigError(f"{name} must not contain negative numbers, got {raw!r}")
    return values


def _bool(name: str, environ: dict[str, str], default: bool) -> bool:
    raw = _env(name, environ)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


@dataclass(frozen=True)
class Config:
    instance_path: str
    database_url: str
    embedded: bool
    secret_key: str
    redis_url: str | None = None
    time_zone: str = "America/Sao_Paulo"
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    service_name: str = "mutiroes-api"
    consul_http_addr: str | None = None
    media_root: str = ""
    media_url: str = "/media/"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"
    mail_from: str = "Mutirões <nao-responda@mutiroes.org.br>"
    smtp_timeout_seconds: int = 10
    mail_batch_size: int = 200
    site_url: str = "http://localhost:3000"
    job_retry_intervals: tuple[int, ...] = (30, 120, 600)
    outbox_relay_interval_seconds: int = 10
    outbox_relay_grace_seconds: int = 5
    scheduler_interval_seconds: int = 30
    access_token_minutes: int = 60
    refresh_token_days: int = 7
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_failure_window_seconds: int = 900
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    max_upload_bytes: int = 10 * 1024 * 1024
    trusted_proxies: int = 0
    db_pool_size: int = 5
    db_max_overflow: int = 2
    log_level: str = "INFO"
    db_connect_timeout: int = 2
    breaker_fail_max: int = 5
    breaker_reset_seconds: int = 60
    retry_attempts: int = 3
    bind: str = "127.0.0.1:8000"
    gunicorn_workers: int = 4
    gunicorn_worker_class: str = "sync"
    gunicorn_threads: int = 1
    gunicorn_timeout: int = 30
    advertise_address: str | None = None
    service_tags: tuple[str, ...] = ()
    drain_file: str | None = None
    upstream_file: str | None = None
    drain_timeout_seconds: int = 20
    extra: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def bind_host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def bind_port(self) -> int:
        return int(self.bind.rpartition(":")[2])

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Config:
        environ = dict(os.environ if environ is None else environ)
        instance_path = overrides.pop("instance_path", None) or _env("MUTIROES_INSTANCE_PATH", environ)
        if instance_path is None:
            instance_path = str(Path(__file__).resolve().parent.parent / "instance")
        database_url = _env("MUTIROES_DATABASE_URL", environ)
        embedded = database_url is None
        if embedded:
            database_url = f"sqlite:///{Path(instance_path) / 'mutiroes.sqlite3'}"

        secret_key = _env("MUTIROES_SECRET_KEY", environ)
        if secret_key is None:
            if not embedded:
                raise ConfigError(
                    "MUTIROES_SECRET_KEY is required outside the embedded mode "
                    "(MUTIROES_DATABASE_URL is set); generate one with: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            secret_key = _embedded_secret(Path(instance_path))
        elif len(secret_key) < MIN_SECRET_LENGTH:
            raise ConfigError(f"MUTIROES_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long")

        time_zone = _env("MUTIROES_TIME_ZONE", environ) or "America/Sao_Paulo"
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"MUTIROES_TIME_ZONE is not a known time zone: {time_zone!r}") from exc

        smtp_security = (_env("MUTIROES_SMTP_SECURITY", environ) or "none").lower()
        if smtp_security not in {"none", "starttls", "ssl"}:
            raise ConfigError("MUTIROES_SMTP_SECURITY must be one of none, starttls, ssl")

        bind = _env("MUTIROES_BIND", environ) or "127.0.0.1:8000"
        host, _, port = bind.rpartition(":")
        if not host or not port.isdigit() or int(port) == 0:
            raise ConfigError(f"MUTIROES_BIND must be HOST:PORT with a fixed port, got {bind!r}")
        worker_class = (_env("MUTIROES_GUNICORN_WORKER_CLASS", environ) or "sync").lower()
        if worker_class not in {"sync", "gthread"}:
            raise ConfigError("MUTIROES_GUNICORN_WORKER_CLASS must be sync or gthread")

        cors = _env("MUTIROES_CORS_ORIGINS", environ)
        cors_origins = tuple(o.strip() for o in cors.split(",") if o.strip()) if cors else ("http://localhost:3000",)

        values = {
            "instance_path": instance_path,
            "database_url": database_url,
            "embedded": embedded,
            "secret_key": secret_key,
            "redis_url": _env("MUTIROES_REDIS_URL", environ),
            "time_zone": time_zone,
            "cors_origins": cors_origins,
            "service_name": _env("MUTIROES_SERVICE_NAME", environ) or "mutiroes-api",
            "consul_http_addr": _env("MUTIROES_CONSUL_HTTP_ADDR", environ),
            "media_root": _env("MUTIROES_MEDIA_ROOT", environ) or str(Path(instance_path) / "media"),
            "media_url": _env("MUTIROES_MEDIA_URL", environ) or "/media/",
            "smtp_host": _env("MUTIROES_SMTP_HOST", environ),
            "smtp_port": _int("MUTIROES_SMTP_PORT", environ, 25, minimum=1),
            "smtp_user": _env("MUTIROES_SMTP_USER", environ),
            "smtp_password": _env("MUTIROES_SMTP_PASSWORD", environ),
            "smtp_security": smtp_security,
            "mail_from": _env("MUTIROES_MAIL_FROM", environ) or "Mutirões <nao-responda@mutiroes.org.br>",
            "smtp_timeout_seconds": _int("MUTIROES_SMTP_TIMEOUT_SECONDS", environ, 10, minimum=1),
            "mail_batch_size": _int("MUTIROES_MAIL_BATCH_SIZE", environ, 200, minimum=1),
            "site_url": (_env("MUTIROES_SITE_URL", environ) or "http://localhost:3000").rstrip("/"),
            "job_retry_intervals": _int_list("MUTIROES_JOB_RETRY_INTERVALS", environ, (30, 120, 600)),
            "outbox_relay_interval_seconds": _int("MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS", environ, 10, minimum=1),
            "outbox_relay_grace_seconds": _int("MUTIROES_OUTBOX_RELAY_GRACE_SECONDS", environ, 5),
            "scheduler_interval_seconds": _int("MUTIROES_SCHEDULER_INTERVAL_SECONDS", environ, 30, minimum=1),
            "access_token_minutes": _int("MUTIROES_ACCESS_TOKEN_MINUTES", environ, 60, minimum=1),
            "refresh_token_days": _int("MUTIROES_REFRESH_TOKEN_DAYS", environ, 7, minimum=1),
            "login_max_failures_per_account": _int("MUTIROES_LOGIN_MAX_FAILURES_PER_ACCOUNT", environ, 5, minimum=1),
            "login_max_failures_per_ip": _int("MUTIROES_LOGIN_MAX_FAILURES_PER_IP", environ, 20, minimum=1),
            "login_failure_window_seconds": _int("MUTIROES_LOGIN_FAILURE_WINDOW_SECONDS", environ, 900, minimum=1),
            "argon2_time_cost": _int("MUTIROES_ARGON2_TIME_COST", environ, 3, minimum=1),
            "argon2_memory_cost_kib": _int("MUTIROES_ARGON2_MEMORY_COST_KIB", environ, 65536, minimum=8),
            "max_upload_bytes": _int("MUTIROES_MAX_UPLOAD_BYTES", environ, 10 * 1024 * 1024, minimum=1024),
            "trusted_proxies": _int("MUTIROES_TRUSTED_PROXIES", environ, 0),
            "db_pool_size": _int("MUTIROES_DB_POOL_SIZE", environ, 5, minimum=1),
            "db_max_overflow": _int("MUTIROES_DB_MAX_OVERFLOW", environ, 2),
            "log_level": (_env("MUTIROES_LOG_LEVEL", environ) or "INFO").upper(),
            "db_connect_timeout": _int("MUTIROES_DB_CONNECT_TIMEOUT", environ, 2, minimum=1),
            "breaker_fail_max": _int("MUTIROES_BREAKER_FAIL_MAX", environ, 5, minimum=1),
            "breaker_reset_seconds": _int("MUTIROES_BREAKER_RESET_SECONDS", environ, 60, minimum=1),
            "retry_attempts": _int("MUTIROES_RETRY_ATTEMPTS", environ, 3, minimum=1),
            "bind": bind,
            "gunicorn_workers": _int("MUTIROES_GUNICORN_WORKERS", environ, 4, minimum=1),
            "gunicorn_worker_class": worker_class,
            "gunicorn_threads": _int("MUTIROES_GUNICORN_THREADS", environ, 1, minimum=1),
            "gunicorn_timeout": _int("MUTIROES_GUNICORN_TIMEOUT", environ, 30, minimum=1),
            "advertise_address": _env("MUTIROES_ADVERTISE_ADDRESS", environ),
            "service_tags": tuple(
                t.strip() for t in (_env("MUTIROES_SERVICE_TAGS", environ) or "").split(",") if t.strip()
            ),
            "drain_file": _env("MUTIROES_DRAIN_FILE", environ),
            "upstream_file": _env("MUTIROES_UPSTREAM_FILE", environ),
            "drain_timeout_seconds": _int("MUTIROES_DRAIN_TIMEOUT_SECONDS", environ, 20),
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown configuration keys: {sorted(unknown)}")
        values.update(overrides)
        return cls(**values)


def _embedded_secret(instance_path: Path) -> str:
    """Generate the embedded mode's JWT key once and keep it, so tokens survive a restart of `make run`."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the same instance won the race
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()
