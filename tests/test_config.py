"""Settings: each one is read from its MUTIROES_* variable, bad values stop the start-up naming the variable, and
docs/configuration.md lists exactly what Config declares."""

from __future__ import annotations

import re
import runpy
import typing
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import certifi
import pytest

from mutiroes.config import Config, ConfigError, setting, variable

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"
SETTINGS_TABLE = runpy.run_path(str(ROOT / "scripts" / "settings_table.py"))
SETTINGS = [spec for spec in fields(Config) if variable(spec)]
KINDS = typing.get_type_hints(Config)
SERVER = {"MUTIROES_DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db", "MUTIROES_SECRET_KEY": "k" * 48}

# a valid value other than the default, for the settings whose type alone does not give one
SAMPLES = {
    "database_url": "postgresql+psycopg2://u@127.0.0.1:1/other",
    "secret_key": "s" * 40,
    "time_zone": "Europe/Lisbon",
    "site_url": "https://mutiroes.example.org",
    "log_level": "DEBUG",
    "bind": "0.0.0.0:9001",
    "smtp_ca_cert": Path(certifi.where()).read_text().strip(),  # any PEM bundle will do
}


def documented_settings() -> dict[str, dict[str, str]]:
    """The rows of the generated table in docs/configuration.md, by variable."""
    text = DOC.read_text()
    table = text.split(SETTINGS_TABLE["BEGIN"], 1)[1].split(SETTINGS_TABLE["END"], 1)[0]
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["Variable", "Type", "Default", "Meaning"]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        row = dict(zip(header, cells, strict=True))
        rows[row["Variable"].strip("`")] = row
    return rows


def sample(spec) -> object:
    """A valid value of the setting that differs from its default."""
    if spec.name in SAMPLES:
        return SAMPLES[spec.name]
    kind, meta = KINDS[spec.name], spec.metadata
    if meta["choices"]:
        return next(choice for choice in meta["choices"] if choice != spec.default)
    if kind is int:
        return spec.default + 1
    if kind == tuple[int, ...]:
        return (1, 2)
    if kind == tuple[str, ...]:
        return ("alpha", "beta")
    return f"/srv/{spec.name}"


def as_text(value: object) -> str:
    return ",".join(str(item) for item in value) if isinstance(value, tuple) else str(value)


def test_the_docs_table_lists_every_setting_config_declares():
    assert set(documented_settings()) == {variable(spec) for spec in SETTINGS}


def test_the_docs_table_gives_each_default_and_meaning_config_declares(tmp_path):
    rows = documented_settings()
    for spec in SETTINGS:
        row, meta = rows[variable(spec)], spec.metadata
        assert row["Meaning"] == meta["description"], variable(spec)
        if meta["documented_default"]:
            assert row["Default"] == meta["documented_default"], variable(spec)
        elif spec.default is None or spec.default == ():
            assert row["Default"] == "unset", variable(spec)
        else:
            # the documented default, given as the variable's value, reads back as the declared default
            written = re.fullmatch(r"`([^`]+)`", row["Default"])
            assert written, f"{variable(spec)}: {row['Default']!r}"
            environ = {**SERVER, variable(spec): written.group(1)}
            config = Config.from_env(environ, instance_path=str(tmp_path))
            assert getattr(config, spec.name) == spec.default, variable(spec)


def test_secrets_have_no_working_default_in_the_code_or_the_docs():
    secrets = [spec for spec in SETTINGS if spec.metadata["secret"]]
    assert {spec.name for spec in secrets} >= {"secret_key", "smtp_password"}
    rows = documented_settings()
    for spec in secrets:
        assert spec.default in (MISSING, None), spec.name
        assert "secret" in rows[variable(spec)]["Type"]
    with pytest.raises(ConfigError, match="MUTIROES_SECRET_KEY is required outside the embedded mode"):
        Config.from_env({"MUTIROES_DATABASE_URL": SERVER["MUTIROES_DATABASE_URL"]})


def test_the_docs_table_is_the_one_the_script_generates():
    text = DOC.read_text()
    assert f"{SETTINGS_TABLE['BEGIN']}\n{SETTINGS_TABLE['render']()}\n{SETTINGS_TABLE['END']}" in text, (
        "docs/configuration.md is out of date: run python scripts/settings_table.py"
    )


def test_every_setting_is_read_from_its_variable(tmp_path):
    expected = {spec.name: sample(spec) for spec in SETTINGS}
    expected["instance_path"] = str(tmp_path / "elsewhere")
    for name, value in expected.items():
        default = next(spec for spec in SETTINGS if spec.name == name).default
        assert value != default, name
    environ = {f"MUTIROES_{name.upper()}": as_text(value) for name, value in expected.items()}

    config = Config.from_env(environ)

    assert {name: getattr(config, name) for name in expected} == expected
    assert config.embedded is False


def test_unset_or_blank_variables_take_the_defaults_and_the_embedded_mode(tmp_path):
    config = Config.from_env({"MUTIROES_SMTP_PORT": "  ", "MUTIROES_REDIS_URL": ""}, instance_path=str(tmp_path))

    assert config.embedded is True
    assert config.database_url == f"sqlite:///{tmp_path / 'mutiroes.sqlite3'}"
    assert config.media_root == str(tmp_path / "media")
    assert config.secret_key == (tmp_path / "secret_key").read_text().strip()
    assert len(config.secret_key) >= 32
    assert Config.from_env({}, instance_path=str(tmp_path)).secret_key == config.secret_key
    assert config.smtp_port == 25 and config.redis_url is None


def test_values_are_normalized_as_the_code_expects_them(tmp_path):
    environ = {
        **SERVER,
        "MUTIROES_SITE_URL": " https://mutiroes.example.org/ ",
        "MUTIROES_LOG_LEVEL": "warning",
        "MUTIROES_SMTP_SECURITY": "StartTLS",
        "MUTIROES_CORS_ORIGINS": "https://a.example, ,https://b.example",
        "MUTIROES_JOB_RETRY_INTERVALS": " 1 , 2 ",
    }

    config = Config.from_env(environ, instance_path=str(tmp_path))

    assert config.site_url == "https://mutiroes.example.org"
    assert config.log_level == "WARNING"
    assert config.smtp_security == "starttls"
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.job_retry_intervals == (1, 2)


@pytest.mark.parametrize("spec", [spec for spec in SETTINGS if KINDS[spec.name] is int], ids=lambda spec: spec.name)
def test_a_setting_that_is_not_an_integer_names_its_variable(spec, tmp_path):
    with pytest.raises(ConfigError, match=f"^{variable(spec)} must be an integer, got 'many'$"):
        Config.from_env({**SERVER, variable(spec): "many"}, instance_path=str(tmp_path))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MUTIROES_SMTP_PORT", "0", "MUTIROES_SMTP_PORT must be >= 1, got 0"),
        ("MUTIROES_TRUSTED_PROXIES", "-1", "MUTIROES_TRUSTED_PROXIES must be >= 0, got -1"),
        ("MUTIROES_ARGON2_MEMORY_COST_KIB", "7", "MUTIROES_ARGON2_MEMORY_COST_KIB must be >= 8, got 7"),
        ("MUTIROES_JOB_RETRY_INTERVALS", "30,soon", "MUTIROES_JOB_RETRY_INTERVALS must be comma-separated integers"),
        ("MUTIROES_JOB_RETRY_INTERVALS", "30,-1", "MUTIROES_JOB_RETRY_INTERVALS must not contain negative numbers"),
        ("MUTIROES_SMTP_SECURITY", "tls", "MUTIROES_SMTP_SECURITY must be one of none, starttls, ssl"),
        (
            "MUTIROES_SMTP_CA_CERT",
            "/etc/ssl/ca.pem",
            "MUTIROES_SMTP_CA_CERT must hold PEM certificates (-----BEGIN CERTIFICATE-----...; a file's path goes in "
            "MUTIROES_SMTP_CA_CERT_FILE)",
        ),
        ("MUTIROES_GUNICORN_WORKER_CLASS", "gevent", "MUTIROES_GUNICORN_WORKER_CLASS must be sync or gthread"),
        ("MUTIROES_TIME_ZONE", "Mars/Olympus", "MUTIROES_TIME_ZONE is not a known time zone: 'Mars/Olympus'"),
        ("MUTIROES_BIND", "127.0.0.1:0", "MUTIROES_BIND must be HOST:PORT with a fixed port, got '127.0.0.1:0'"),
        ("MUTIROES_BIND", "8000", "MUTIROES_BIND must be HOST:PORT with a fixed port"),
        ("MUTIROES_SECRET_KEY", "short", "MUTIROES_SECRET_KEY must be at least 32 characters long"),
    ],
)
def test_a_bad_value_stops_the_start_up_naming_its_variable(name, value, message, tmp_path):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        Config.from_env({**SERVER, name: value}, instance_path=str(tmp_path))


@dataclass(frozen=True, kw_only=True)
class ConfigWithFlag(Config):
    maintenance: bool = setting(False, description="a boolean setting, as Config would declare one")


@pytest.mark.parametrize(("raw", "value"), [("yes", True), ("TRUE", True), ("1", True), ("off", False), ("0", False)])
def test_a_boolean_setting_reads_the_usual_spellings(raw, value, tmp_path):
    config = ConfigWithFlag.from_env({**SERVER, "MUTIROES_MAINTENANCE": raw}, instance_path=str(tmp_path))

    assert config.maintenance is value


def test_a_setting_that_is_not_a_boolean_names_its_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^MUTIROES_MAINTENANCE must be a boolean \(true/false\), got 'maybe'$"):
        ConfigWithFlag.from_env({**SERVER, "MUTIROES_MAINTENANCE": "maybe"}, instance_path=str(tmp_path))


def test_overrides_replace_settings_and_unknown_ones_are_refused(tmp_path):
    config = Config.from_env(SERVER, instance_path=str(tmp_path), service_name="mutiroes-test", smtp_port=2525)

    assert (config.service_name, config.smtp_port, config.instance_path) == ("mutiroes-test", 2525, str(tmp_path))
    assert config.media_root == str(tmp_path / "media")
    with pytest.raises(ConfigError, match=r"unknown configuration keys: \['colour'\]"):
        Config.from_env(SERVER, instance_path=str(tmp_path), colour="green")


def test_bind_gives_host_and_port(tmp_path):
    config = Config.from_env({**SERVER, "MUTIROES_BIND": "[::1]:8001"}, instance_path=str(tmp_path))

    assert (config.bind_host, config.bind_port) == ("::1", 8001)
    assert config.tz.key == "America/Sao_Paulo"


def test_any_setting_can_come_from_a_file_as_docker_secrets_give_them(tmp_path):
    key_file, url_file = tmp_path / "secret_key", tmp_path / "database_url"
    key_file.write_text("f" * 48 + "\n")
    url_file.write_text("postgresql+psycopg2://app:s3cr%40t@db:5432/mutiroes\n")
    environ = {"MUTIROES_SECRET_KEY_FILE": str(key_file), "MUTIROES_DATABASE_URL_FILE": str(url_file)}

    config = Config.from_env(environ, instance_path=str(tmp_path))

    assert config.secret_key == "f" * 48
    assert config.database_url == "postgresql+psycopg2://app:s3cr%40t@db:5432/mutiroes"
    assert config.embedded is False
    # the variable itself wins over its file
    config = Config.from_env({**environ, "MUTIROES_SECRET_KEY": "v" * 40}, instance_path=str(tmp_path))
    assert config.secret_key == "v" * 40


def test_a_secret_file_that_cannot_be_read_stops_the_start_up(tmp_path):
    with pytest.raises(ConfigError, match="MUTIROES_SECRET_KEY_FILE names .* cannot be read"):
        Config.from_env(
            {"MUTIROES_DATABASE_URL": SERVER["MUTIROES_DATABASE_URL"], "MUTIROES_SECRET_KEY_FILE": str(tmp_path / "x")},
            instance_path=str(tmp_path),
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MUTIROES_SECRET_KEY", "replace-me-with-48-random-url-safe-characters-xxxxxxxx"),
        ("MUTIROES_DATABASE_URL", "postgresql+psycopg2://mutiroes:replace-me-too@postgres:5432/mutiroes"),
        ("MUTIROES_SMTP_PASSWORD", "replace-me"),
    ],
)
def test_the_placeholder_of_env_example_is_refused_at_start_up(name, value, tmp_path):
    with pytest.raises(ConfigError, match=f"{name} still holds the placeholder of .env.example"):
        Config.from_env({**SERVER, name: value}, instance_path=str(tmp_path))


def test_the_placeholders_of_env_example_are_the_ones_refused():
    example = (ROOT / ".env.example").read_text()
    values = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    for name in ("MUTIROES_SECRET_KEY", "POSTGRES_PASSWORD"):
        assert values[name].startswith("replace-me"), name
