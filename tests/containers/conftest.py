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
