"""One typed configuration read from ``MUTIROES_*`` environment variables.

Each field of ``Config`` is one setting: ``MUTIROES_<FIELD>`` in upper case, converted by the field's declared type,
with its default, its bounds and its one-line description (the table of docs/configuration.md) written once, in
the field. A variable that is unset or blank means "use the default".

The embedded mode (``MUTIROES_DATABASE_URL`` unset) needs nothing at all: a SQLite file and a JWT signing key are
created under the instance folder. Every other mode must be given its secrets; a missing one stops the start-up, and
so does a value still holding the placeholder of ``.env.example`` (``replace-me``).

Any setting can instead come from a file: ``MUTIROES_<FIELD>_FILE`` names it (Docker and Swarm secrets mount them at
``/run/secrets/``); its content, without the trailing newline, is the value. The variable itself wins when both are
set.
"""

from __future__ import annotations

import os
import secrets
import ssl
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "MUTIROES_"
FILE_SUFFIX = "_FILE"
MIN_SECRET_LENGTH = 32
# the example values of .env.example start with this: a deployment that kept one has not set its secrets
PLACEHOLDER = "replace-me"


class ConfigError(RuntimeError):
    """Raised at start-up when the environment does not describe a runnable configuration."""


def setting(
    default: Any = MISSING,
    *,
    description: str,
    minimum: int = 0,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    derive: Callable[[dict[str, Any]], Any] | None = None,
    documented_default: str | None = None,
    normalize: Callable[[str], str] | None = None,
    check: Callable[[str, Any], None] | None = None,
) -> Any:
    """A field read from ``MUTIROES_<NAME>``.

    ``minimum`` bounds an integer; ``choices`` are the allowed values of a string, read case-insensitively;
    ``derive`` computes the default from the settings declared before it, and ``documented_default`` says in words
    what it is; ``normalize`` and ``check`` apply to a value given in the environment (defaults are already valid).
    """
    if derive is not None and documented_default is None:
        raise TypeError("a derived default needs documented_default: the docs table says what it is")
    metadata = {
        "description": description,
        "minimum": minimum,
        "choices": choices,
        "secret": secret,
        "derive": derive,
        "documented_default": documented_default,
        "normalize": normalize,
        "check": check,
    }
    return field(default=default, metadata=metadata)


def variable(spec: Field) -> str | None:
    """The environment variable of a field, or None for a value derived from other settings."""
    if "description" not in spec.metadata:
        return None
    return PREFIX + spec.name.upper()


def _env(name: str, environ: dict[str, str]) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _with_files(environ: dict[str, str], names: set[str]) -> dict[str, str]:
    """``environ`` with ``<NAME>_FILE`` read into ``<NAME>``, for each setting's variable in ``names`` that is not
    set itself (``MUTIROES_DRAIN_FILE`` is a setting of its own, not the file of a ``MUTIROES_DRAIN``)."""
    resolved = dict(environ)
    for name in names:
        key = name + FILE_SUFFIX
        path = environ.get(key, "")
        if not path.strip() or _env(name, environ) is not None:
            continue
        try:
            resolved[name] = Path(path.strip()).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{key} names {path!r}, which cannot be read: {exc.strerror}") from exc
    return resolved


def _not_a_placeholder(spec: Field, name: str, value: Any) -> None:
    """Secrets, and URLs that carry a password, must not keep the example's placeholder."""
    if isinstance(value, str) and PLACEHOLDER in value and (spec.metadata["secret"] or name.endswith("_URL")):
        raise ConfigError(f"{name} still holds the placeholder of .env.example ({PLACEHOLDER}...): set a real value")


def _string(name: str, raw: str) -> str:
    return raw


def _integer(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _strings(name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _integers(name: str, raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be comma-separated integers, got {raw!r}") from exc
    if any(value < 0 for value in values):
        raise ConfigError(f"{name} must not contain negative numbers, got {raw!r}")
    return values


# how a variable's text becomes a value, by the field's declared type
PARSERS: dict[Any, Callable[[str, str], Any]] = {
    str: _string,
    str | None: _string,
    int: _integer,
    bool: _boolean,
    tuple[str, ...]: _strings,
    tuple[int, ...]: _integers,
}


def _one_of(choices: tuple[str, ...]) -> str:
    if len(choices) == 2:
        return f"{choices[0]} or {choices[1]}"
    return "one of " + ", ".join(choices)


def _read(spec: Field, kind: Any, environ: dict[str, str], values: dict[str, Any]) -> Any:
    name = variable(spec)
    meta = spec.metadata
    raw = _env(name, environ)
    if raw is None:
        return meta["derive"](values) if meta["derive"] else spec.default
    value = PARSERS[kind](name, raw)
    if kind is int and value < meta["minimum"]:
        raise ConfigError(f"{name} must be >= {meta['minimum']}, got {value}")
    if meta["normalize"]:
        value = meta["normalize"](value)
    if meta["choices"]:
        value = value.lower()
        if value not in meta["choices"]:
            raise ConfigError(f"{name} must be {_one_of(meta['choices'])}")
    if meta["check"]:
        meta["check"](name, value)
    _not_a_placeholder(spec, name, value)
    return value


def _embedded_database(values: dict[str, Any]) -> str:
    return f"sqlite:///{Path(values['instance_path']) / 'mutiroes.sqlite3'}"


def _embedded_secret_key(values: dict[str, Any]) -> str:
    if not values["embedded"]:
        raise ConfigError(
            "MUTIROES_SECRET_KEY is required outside the embedded mode "
            "(MUTIROES_DATABASE_URL is set); generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return _embedded_secret(Path(values["instance_path"]))


def _long_enough(name: str, value: str) -> None:
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_LENGTH} characters long")


def _known_time_zone(name: str, value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{name} is not a known time zone: {value!r}") from exc


def _pem_certificates(name: str, value: str) -> None:
    try:
        ssl.create_default_context(cadata=value)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"{name} must hold PEM certificates (-----BEGIN CERTIFICATE-----...; a file's path goes in {name}_FILE)"
        ) from exc


def _host_and_port(name: str, value: str) -> None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) == 0:
        raise ConfigError(f"{name} must be HOST:PORT with a fixed port, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Config:
    instance_path: str = setting(
        str(Path(__file__).resolve().parent.parent / "instance"),
        description="folder of the embedded mode's SQLite file and generated key, and of media by default",
        documented_default="`instance/` next to the package",
    )
    database_url: str = setting(
        description="SQLAlchemy URL (PostgreSQL in production); unset means the embedded mode",
        derive=_embedded_database,
        documented_default="SQLite file `mutiroes.sqlite3` in the instance folder",
    )
    # no variable of its own: the embedded mode is the one with MUTIROES_DATABASE_URL unset
    embedded: bool
    secret_key: str = setting(
        description=f"JWT signing key, at least {MIN_SECRET_LENGTH} characters; required outside the embedded mode",
        secret=True,
        derive=_embedded_secret_key,
        documented_default="embedded mode only: generated once into `secret_key` in the instance folder",
        check=_long_enough,
    )
    redis_url: str | None = setting(
        None, description="cache, job queues, login-throttling counters, breaker state; unset: in-process equivalents"
    )
    redis_sentinels: tuple[str, ...] = setting(
        (),
        description="Redis Sentinels (`host:port`, comma-separated): the master is found by name through them, and "
        "followed when they fail over; instead of MUTIROES_REDIS_URL",
    )
    redis_master_name: str = setting("mutiroes", description="name of the master the Sentinels watch")
    redis_password: str | None = setting(
        None, secret=True, description="password of Redis and of its Sentinels (or in MUTIROES_REDIS_URL itself)"
    )
    time_zone: str = setting(
        "America/Sao_Paulo", description="zone for naive datetimes, schedules and emails", check=_known_time_zone
    )
    cors_origins: tuple[str, ...] = setting(
        ("http://localhost:3000",), description="origins allowed to call the API from a browser"
    )
    service_name: str = setting(
        "mutiroes-api",
        description="name in Consul and in the nginx upstream; also the PostgreSQL `application_name`",
    )
    consul_http_addr: str | None = setting(None, description="Consul agent to register with; unset: no registration")
    consul_token: str | None = setting(
        None, secret=True, description="Consul ACL token the replica registers (and deregisters) itself with"
    )
    media_root: str = setting(
        description="folder of uploaded images",
        derive=lambda values: str(Path(values["instance_path"]) / "media"),
        documented_default="`media` in the instance folder",
    )
    media_url: str = setting("/media/", description="public URL prefix of uploaded images")
    smtp_host: str | None = setting(None, description="outgoing mail server; unset: emails are logged, not sent")
    smtp_port: int = setting(25, minimum=1, description="port of the outgoing mail server")
    smtp_user: str | None = setting(None, description="login on the mail server; unset: no login")
    smtp_password: str | None = setting(None, secret=True, description="password of that login")
    smtp_security: str = setting(
        "none",
        choices=("none", "starttls", "ssl"),
        description="encryption of the SMTP connection (the server's certificate and name are always verified)",
    )
    smtp_ca_cert: str | None = setting(
        None,
        description="PEM CA certificates that the mail server's certificate is verified against, instead of the "
        "system's (a relay with a private CA); usually given as `MUTIROES_SMTP_CA_CERT_FILE`",
        check=_pem_certificates,
    )
    mail_from: str = setting("Mutirões <nao-responda@mutiroes.org.br>", description="sender of every email")
    smtp_timeout_seconds: int = setting(10, minimum=1, description="SMTP connect and command timeout")
    mail_batch_size: int = setting(
        200, minimum=1, description="messages per claim/mark batch in bulk sends (one SMTP connection throughout)"
    )
    site_url: str = setting(
        "http://localhost:3000",
        description="web frontend address used in email links (a trailing `/` is dropped)",
        normalize=lambda value: value.rstrip("/"),
    )
    frontend_url: str = setting(
        description="web frontend address of the account links (`/redefinir-senha`, `/verificar-email`); "
        "a trailing `/` is dropped",
        derive=lambda values: values["site_url"],
        documented_default="`MUTIROES_SITE_URL`",
        normalize=lambda value: value.rstrip("/"),
    )
    account_emails_per_address: int = setting(
        3,
        minimum=1,
        description="password-reset and verification emails one address may be sent per hour (more: 429)",
    )
    account_emails_per_ip: int = setting(
        10, minimum=1, description="password-reset requests one client IP may make per hour (more: 429)"
    )
    job_retry_intervals: tuple[int, ...] = setting(
        (30, 120, 600), description="RQ retry back-off in seconds, one retry per entry (a job may declare fewer)"
    )
    outbox_relay_interval_seconds: int = setting(
        10, minimum=1, description="how often the relay in each worker/scheduler checks the outbox rows not yet marked"
    )
    outbox_relay_grace_seconds: int = setting(
        5,
        description="age before the relay checks an outbox row in RQ and marks it "
        "(pushing it if the committing process could not)",
    )
    scheduler_interval_seconds: int = setting(
        30, minimum=1, description="how often rq-scheduler moves due periodic jobs to the queue"
    )
    access_token_minutes: int = setting(60, minimum=1, description="access token lifetime")
    refresh_token_days: int = setting(7, minimum=1, description="refresh token lifetime")
    login_max_failures_per_account: int = setting(
        5, minimum=1, description="failed logins per account and client IP before that IP gets 429 for that account"
    )
    login_max_failures_per_ip: int = setting(20, minimum=1, description="failed logins per client IP before 429")
    login_max_failures_account_wide: int = setting(
        50,
        minimum=1,
        description="failed logins per account from all IPs before only the IPs it logged in from may still try",
    )
    login_failure_window_seconds: int = setting(
        900, minimum=1, description="window of the failed-login counters (and the longest Retry-After)"
    )
    argon2_time_cost: int = setting(3, minimum=1, description="argon2id time cost of password hashes")
    argon2_memory_cost_kib: int = setting(65536, minimum=8, description="argon2id memory cost of password hashes")
    comments_per_minute: int = setting(
        10, minimum=1, description="comments and replies one person may post per minute; more get 429"
    )
    max_upload_bytes: int = setting(
        10 * 1024 * 1024, minimum=1024, description="largest upload (10 MiB by default); bigger bodies get 413"
    )
    trusted_proxies: int = setting(
        0, description="how many proxies (nginx) sit in front; enables `X-Forwarded-*` handling"
    )
    db_pool_size: int = setting(
        5, minimum=1, description="SQLAlchemy pool size per process; `gunicorn.conf.py` defaults it to threads + 1"
    )
    db_max_overflow: int = setting(
        2, description="connections beyond the pool per process; `gunicorn.conf.py` defaults it to 1"
    )
    log_level: str = setting("INFO", description="Python log level, in any case", normalize=str.upper)
    # machines read the JSON lines of a deployment; a person reads `make run` in a terminal
    log_format: str = setting(
        choices=("json", "console"),
        description="`json` (one JSON object per line) or `console` (short lines for a terminal)",
        derive=lambda values: "console" if values["embedded"] else "json",
        documented_default="`console` in the embedded mode, `json` otherwise",
    )
    replica_id: str | None = setting(
        None, description="this process's name in log lines and `/health/`", documented_default="`hostname:pid`"
    )
    db_connect_timeout: int = setting(
        2, minimum=1, description="seconds to wait for a PostgreSQL connection (every host of the URL together)"
    )
    db_statement_timeout_ms: int = setting(
        30_000,
        minimum=100,
        description="longest wait for one database answer, in the client (a frozen server) and the server alike; "
        "`gunicorn.conf.py` defaults it to 900 for the API replicas, whose requests must not hang",
    )
    db_request_budget_ms: int = setting(
        0,
        minimum=0,
        description="total database wait of one request, connects and answers of every attempt together (0: no "
        "limit); `gunicorn.conf.py` defaults it to 1500 for the API replicas, so a frozen primary costs a request "
        "1.5 s, not a pre-ping, a reconnect and a retry one after the other",
    )
    breaker_fail_max: int = setting(
        5, minimum=1, description="consecutive failures that open a dependency's circuit breaker"
    )
    breaker_reset_seconds: int = setting(
        15, minimum=1, description="how long a circuit stays open before one trial call (a failover is over by then)"
    )
    retry_attempts: int = setting(3, minimum=1, description="attempts of a unit of work on a transient database error")
    bind: str = setting(
        "127.0.0.1:8000",
        description="`HOST:PORT` gunicorn listens on (a fixed port: it is registered in Consul)",
        check=_host_and_port,
    )
    gunicorn_workers: int = setting(4, minimum=1, description="gunicorn worker processes per replica")
    gunicorn_worker_class: str = setting("sync", choices=("sync", "gthread"), description="gunicorn worker type")
    gunicorn_threads: int = setting(1, minimum=1, description="threads per gunicorn worker")
    gunicorn_timeout: int = setting(30, minimum=1, description="seconds before a stuck worker is killed")
    advertise_address: str | None = setting(
        None,
        description="address registered in Consul (what nginx and Consul's check reach)",
        documented_default="the bind host; its hostname's IP when binding `0.0.0.0`",
    )
    service_tags: tuple[str, ...] = setting(
        (), description="extra Consul tags (`api`, `http` and `v<version>` are always there)"
    )
    drain_file: str | None = setting(
        None,
        description="flag file that makes `/readiness/` answer 503 in every worker while the replica drains",
        documented_default="`gunicorn.conf.py` sets `$TMPDIR/mutiroes-<port>.draining`",
    )
    upstream_file: str | None = setting(
        None,
        description="nginx upstream file rendered by consul-template; a stopping replica waits until it is gone "
        "from it (unset: a fixed 10 s wait)",
    )
    drain_timeout_seconds: int = setting(
        20, description="longest wait for the replica to leave the upstream file, before stopping anyway"
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def uses_redis(self) -> bool:
        """Whether Redis is configured (a URL or Sentinels); without it every part uses its in-process fallback."""
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def bind_host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def bind_port(self) -> int:
        return int(self.bind.rpartition(":")[2])

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Config:
        """Read every setting from ``environ`` (``os.environ`` by default); ``overrides`` replace single values.

        An ``instance_path`` override is where the derived defaults go; the other overrides replace the values read.
        """
        names = {variable(spec) for spec in fields(cls)} - {None}
        environ = _with_files(dict(os.environ if environ is None else environ), names)
        values: dict[str, Any] = {"embedded": _env(f"{PREFIX}DATABASE_URL", environ) is None}
        instance_path = overrides.pop("instance_path", None)
        if instance_path:
            values["instance_path"] = instance_path
        kinds = typing.get_type_hints(cls)
        for spec in fields(cls):
            if spec.name not in values:
                values[spec.name] = _read(spec, kinds[spec.name], environ, values)
        unknown = set(overrides) - {spec.name for spec in fields(cls)}
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
