"""The local cluster, started once per test session through the same code as `make cluster`, then torn down.

It runs in a temporary folder on free ports, so it never collides with a developer's `make cluster` (8080/8500).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import sqlalchemy as sa

from cluster import TOOLS_BIN, Cluster

_REPORTS: list[str] = []


def report(name: str, **figures) -> str:
    """One line per fault test: printed at once and again in the run's summary."""
    line = f"{name}: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in figures.items())
    print(line)
    _REPORTS.append(line)
    return line


def pytest_terminal_summary(terminalreporter):
    if _REPORTS:
        terminalreporter.section("fault injection")
        for line in _REPORTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def cluster():
    missing = [tool for tool in ("consul", "consul-template") if not (TOOLS_BIN / tool).exists()]
    assert not missing, f"run scripts/install-tools.sh first (missing {missing})"
    # not pytest's tmp_path: that is private to root, and PostgreSQL runs as an unprivileged user
    state_dir = tempfile.mkdtemp(prefix="mutiroes-cluster-")
    os.chmod(state_dir, 0o755)
    instance = Cluster(state_dir, nginx_port=None, consul_port=None)
    try:
        instance.up(
            backends=3,
            workers=2,
            extra_env={
                # two workers per replica keep the 2-core test machine responsive; production uses 4
                "MUTIROES_GUNICORN_WORKERS": "2",
                "MUTIROES_ARGON2_TIME_COST": "1",
                "MUTIROES_ARGON2_MEMORY_COST_KIB": "1024",
                "MUTIROES_LOG_LEVEL": "INFO",
            },
            timeout=90,
        )
        yield instance
    finally:
        keep = bool(os.environ.get("MUTIROES_E2E_KEEP"))  # to read the logs of a failed run
        instance.down(purge=not keep)
        if not keep:
            shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def port(cluster) -> int:
    return cluster.load().ports["nginx"]


@pytest.fixture(scope="module")
def sql(cluster):
    engine = sa.create_engine(cluster.urls()["database"], pool_pre_ping=True)

    def run(statement: str, **params) -> list:
        with engine.connect() as connection:
            return connection.execute(sa.text(statement), params).all()

    yield run
    engine.dispose()
