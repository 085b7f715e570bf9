"""The container deployments: images built once per test session from our Dockerfiles, then one stack per module.

Marked `containers` (part of `make test`); each stack has its own project name, secrets and free ports on
127.0.0.1, and is torn down with its volumes at the end.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.containers.stack import ROOT, STACK_SCRIPT
from tests.e2e.conftest import report

# short timings so a fault heals within seconds (as the local cluster's CLUSTER_DEFAULTS)
FAST = {
    "MUTIROES_GUNICORN_WORKERS": "2",
    "MUTIROES_BREAKER_RESET_SECONDS": "10",
    "MUTIROES_JOB_RETRY_INTERVALS": "2,4,8,15,30",
    "MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS": "2",
    "MUTIROES_UP_TIMEOUT": "300",
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the last lines the gateway, the backends and the PostgreSQL nodes logged: a 503 alone
    does not say whether nginx found no replica, a replica did not answer in time or the API refused."""
    outcome = yield
    result = outcome.get_result()
    stack = getattr(item, "funcargs", {}).get("stack")
    if result.when != "call" or not result.failed or stack is None:
        return
    for service in ("gateway", "backend", "pg-1", "pg-2"):
        try:
            logs = stack.run("logs", service, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            logs = "(no logs within 60 s)"
        result.sections.append((f"{service} logs", logs[-12000:]))


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/containers/" in str(item.fspath):
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def images():
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(STACK_SCRIPT), "compose", "build"], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report("images", built_in=f"{time.monotonic() - started:.0f}s", each=result.stdout.strip().replace("\n", "; "))
    return result.stdout
