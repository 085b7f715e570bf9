"""The local cluster's files, checked without starting it."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cluster import ClusterError, ha
from cluster.layout import PATRONI, PG_USER, ROOT, Layout

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only a cluster run by root runs PostgreSQL as another user")


PATRONI_VERSION = re.search(r"^patroni==(\S+)", (ROOT / "docker" / "patroni.lock").read_text(), re.M).group(1)


def _checkout(monkeypatch, mode: int) -> Path:
    """A folder holding the Patroni venv and the node script, as a checkout does, entered by others or not."""
    folder = Path(tempfile.mkdtemp(prefix="mutiroes-checkout-"))
    folder.chmod(mode)
    venv = folder / "tools" / "patroni"
    shutil.copytree(PATRONI.parent.parent, venv, symlinks=True)
    script = folder / "patroni-node.sh"
    shutil.copyfile(ROOT / "docker" / "patroni-node.sh", script)
    monkeypatch.setattr(ha, "PATRONI", venv / "bin" / "patroni")
    monkeypatch.setattr(ha, "NODE_SCRIPT", script)
    return folder


@pytest.fixture
def private_checkout(monkeypatch):
    """A checkout in a folder only root can enter (what ``mktemp -d`` or /root give)."""
    folder = _checkout(monkeypatch, 0o700)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def public_checkout(monkeypatch):
    folder = _checkout(monkeypatch, 0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_checkout_out_of_postgres_users_reach_runs_patroni_from_the_state_folder(private_checkout):
    state = Path(tempfile.mkdtemp(prefix="mutiroes-cluster-"))
    state.chmod(0o755)
    try:
        script, patroni = ha.patroni_programs(Layout(state))
        assert script.parent == patroni.parent == state / "tools"
        assert script.read_bytes() == ha.NODE_SCRIPT.read_bytes()
        ran = subprocess.run(
            ["runuser", "-u", PG_USER, "--", str(patroni), "--version"], capture_output=True, text=True, timeout=60
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split()[-1] == PATRONI_VERSION
        # from the checkout itself it cannot run: this is what the copy is for
        direct = subprocess.run(["runuser", "-u", PG_USER, "--", str(ha.PATRONI), "--version"], capture_output=True)
        assert direct.returncode != 0
    finally:
        shutil.rmtree(state)


def test_a_reachable_checkout_runs_patroni_where_it_is(public_checkout):
    state = Path(tempfile.mkdtemp(prefix="mutiroes-cluster-"))
    try:
        assert ha.patroni_programs(Layout(state)) == (ha.NODE_SCRIPT, ha.PATRONI)
        assert not (state / "tools").exists()
    finally:
        shutil.rmtree(state)


def test_a_state_folder_out_of_reach_is_refused_with_the_way_out(private_checkout):
    state = private_checkout / ".cluster"  # `make cluster` keeps its state in the checkout
    state.mkdir()
    with pytest.raises(ClusterError, match="MUTIROES_CLUSTER_DIR"):
        ha.patroni_programs(Layout(state))
    assert not (state / "tools").exists()
