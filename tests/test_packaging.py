"""A plain install works: the wheel built from this tree, installed from the runtime lock into a fresh venv, migrates,
seeds and serves from a folder outside the source tree. And the lock files say what setup.cfg says.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
# what setuptools reads to build the wheel (setup.cfg [metadata], [options]); copied so that a stale build/ folder in
# the work tree cannot end up in the wheel
BUILD_INPUTS = ("pyproject.toml", "setup.cfg", "README.md", "mutiroes", "workers")
CATEGORIES = {"Limpeza", "Plantio", "Monitoramento", "Educação"}


def _run(command: list, **kwargs) -> str:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _pins(lock: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) of a pip-compile lock file."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for block in re.split(r"\n(?=[a-z0-9])", lock.read_text()):
        pinned = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", block)
        if pinned:
            hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block))
            pins[canonicalize_name(pinned.group(1))] = (pinned.group(2), hashes)
    return pins


def _requirements(value: str) -> list[Requirement]:
    lines = (line.partition("#")[0].strip() for line in value.splitlines())
    return [Requirement(line) for line in lines if line]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = tmp_path_factory.mktemp("dist")
    # the locked setuptools of this venv builds it, as `make venv` does
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", dist, source])
    (built,) = dist.glob("mutiroes-*.whl")
    return built


def test_wheel_holds_the_migrations_and_the_mail_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = ROOT / "mutiroes" / "migrations"
    expected = {"mutiroes/migrations/env.py", "mutiroes/migrations/alembic.ini", "mutiroes/migrations/script.py.mako"}
    expected |= {f"mutiroes/migrations/versions/{p.name}" for p in (migrations / "versions").glob("*.py")}
    expected |= {f"mutiroes/mail/templates/{p.name}" for p in (ROOT / "mutiroes" / "mail" / "templates").iterdir()}
    assert len(expected) > 10
    assert expected <= names, sorted(expected - names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "mutiroes = mutiroes.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_installed_from_the_runtime_lock_migrates_seeds_and_serves(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    bin_dir = venv / "bin"
    # What an image does. The locked pip of this venv installs into the new one (--python): no copy of pip and
    # setuptools to lay in first, and modules are compiled when first imported; pip's wheel cache keeps the wheel it
    # builds for the one sdist-only pin (crontab).
    pip = [sys.executable, "-m", "pip", "--python", bin_dir / "python", "install", "--quiet", "--no-compile"]
    _run([*pip, "--require-hashes", "-r", ROOT / "requirements.lock"])
    _run([*pip, "--no-deps", wheel])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MUTIROES_", "FLASK_", "PYTHON", "PROMETHEUS_")) and key != "VIRTUAL_ENV"
    }
    env.update(MUTIROES_INSTANCE_PATH=str(tmp_path / "instance"), MUTIROES_LOG_LEVEL="WARNING")
    run = {"cwd": elsewhere, "env": env}

    package = _run([bin_dir / "python", "-c", "import mutiroes; print(mutiroes.MIGRATIONS)"], **run).strip()
    assert Path(package).is_relative_to(venv), package  # the installed copy, not this tree
    _run([bin_dir / "mutiroes", "db", "upgrade"], **run)
    assert (tmp_path / "instance" / "mutiroes.sqlite3").is_file()
    assert "categories added: 0" in _run([bin_dir / "mutiroes", "seed"], **run)  # the migrations seeded them
    assert "categories added: 0" in _run([bin_dir / "flask", "--app", "mutiroes", "seed"], **run)

    port = free_port()
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [bin_dir / "mutiroes", "run", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, **run
        )
    try:
        wait_for_port(port, timeout=30)
        response = requests.get(f"http://127.0.0.1:{port}/api/events/categories/", timeout=10)
        docs = requests.get(f"http://127.0.0.1:{port}/api/docs/", timeout=10)
        bundle = re.search(r'src="(/[^"]+/swagger-ui-bundle\.js)"', docs.text)
        asset = requests.get(f"http://127.0.0.1:{port}{bundle.group(1)}", timeout=10) if bundle else None
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert response.status_code == 200, (tmp_path / "server.log").read_text()
    assert {category["name"] for category in response.json()} == CATEGORIES
    assert docs.status_code == 200 and asset is not None, docs.text
    assert asset.status_code == 200  # Swagger UI's files are package data of swagger-ui-bundle, served by the app


def test_runtime_lock_pins_the_dev_lock_versions_and_hashes():
    """What the tests run (the dev lock) is what an operator runs (the runtime lock)."""
    runtime, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    assert len(runtime) > 30
    different = {name: (pin, dev.get(name)) for name, pin in runtime.items() if dev.get(name) != pin}
    assert not different, different
    assert all(hashes for _version, hashes in runtime.values())


def test_lock_files_satisfy_setup_cfg():
    """A requirement changed in setup.cfg without `make lock` fails here, not in an image build."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    locks = {
        "requirements.lock": _requirements(setup["options"]["install_requires"]),
        "requirements-dev.lock": _requirements(setup["options.extras_require"]["dev"]),
    }
    for lock, requirements in locks.items():
        pins = _pins(ROOT / lock)
        for requirement in requirements:
            pinned = pins.get(canonicalize_name(requirement.name))
            assert pinned is not None, f"{requirement.name} is missing from {lock}: run make lock"
            assert requirement.specifier.contains(pinned[0], prereleases=True), f"{requirement} vs {lock}: {pinned[0]}"
