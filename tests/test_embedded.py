"""The embedded mode, started the way `make run` starts it, used over real HTTP."""

import os
import re
import subprocess
import sys
import time

import requests

from tests.services import free_port, wait_for_port


def test_embedded_mode_register_login_profile_over_http_with_readable_logs(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTIROES_")}
    env.update(MUTIROES_INSTANCE_PATH=str(tmp_path / "instance"), MUTIROES_LOG_LEVEL="INFO")
    command = [sys.executable, "-m", "mutiroes.embedded", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        registered = requests.post(
            f"{base}/api/users/register/",
            json={
                "username": "joana",
                "email": "joana@example.org",
                "password": "mangue-vivo-2026",
                "password_confirm": "mangue-vivo-2026",
            },
            headers={"X-Request-Id": "embutido-1"},
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        assert registered.headers["X-Request-Id"] == "embutido-1"
        tokens = requests.post(
            f"{base}/api/token/",
            json={"email": "joana@example.org", "password": "mangue-vivo-2026"},
            timeout=10,
        ).json()
        profile = requests.get(
            f"{base}/api/users/profile/", headers={"Authorization": f"Bearer {tokens['access']}"}, timeout=10
        )
        assert profile.status_code == 200
        assert profile.json()["user"]["username"] == "joana"
        demo = requests.post(
            f"{base}/api/token/",
            json={"email": "voluntario@demo.mutiroes.org.br", "password": "mutirao-demo-2026"},
            timeout=10,
        )
        assert demo.status_code == 200
        assert (tmp_path / "instance" / "mutiroes.sqlite3").exists()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in output
    assert "demo login: voluntario@demo.mutiroes.org.br / mutirao-demo-2026" in output
    # console lines for a person, not JSON; the welcome email's job ran on a thread under the request's id
    assert not [line for line in output.splitlines() if line.startswith("{")]
    assert re.search(r"INFO mutiroes\.access: POST /api/users/register/ 201 in [\d.]+ ms \[embutido-1\]", output)
    assert re.search(r"INFO mutiroes\.jobs\.runner: job send_welcome_email done in [\d.]+ ms \[embutido-1\]", output)


def test_embedded_preparation_is_idempotent(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTIROES_")}
    env.update(MUTIROES_INSTANCE_PATH=str(tmp_path / "instance"), MUTIROES_LOG_LEVEL="WARNING")
    script = (
        "import sqlalchemy as sa\n"
        "from mutiroes import create_app\n"
        "from mutiroes.embedded import prepare\n"
        "from mutiroes.models import db\n"
        "app = create_app()\n"
        "prepare(app); prepare(app)\n"
        "with app.app_context():\n"
        "    print(db.session.scalar(sa.text('select count(*) from users')),"
        " db.session.scalar(sa.text('select count(*) from event_categories')),"
        " db.session.scalar(sa.text(\"select count(*) from events where status = 'published'\")))\n"
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["2", "4", "4"]
    assert time.monotonic() - started < 120
