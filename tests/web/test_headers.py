"""Security headers come from the app itself, so the embedded mode (no nginx in front) has them too."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from flask_migrate import upgrade

from mutiroes import create_app
from mutiroes.config import Config
from mutiroes.web import headers

COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


@pytest.fixture
def embedded(tmp_path):
    config = Config.from_env({"MUTIROES_LOG_LEVEL": "WARNING"}, instance_path=str(tmp_path))
    assert config.embedded
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app.test_client()


@pytest.mark.parametrize("mode", ["embedded", "replica"])
def test_every_answer_carries_the_security_headers(request, mode):
    client = request.getfixturevalue("embedded" if mode == "embedded" else "client")
    for path, status in (("/api/events/categories/", 200), ("/api/nao-existe/", 404), ("/api/users/profile/", 401)):
        response = client.get(path)
        assert response.status_code == status
        for name, value in COMMON.items():
            assert response.headers.get_all(name) == [value], (path, name)
        assert response.headers["Content-Security-Policy"] == headers.JSON_POLICY
    assert client.delete("/api/users/register/").headers["X-Frame-Options"] == "DENY"  # 405


@pytest.mark.parametrize("mode", ["embedded", "replica"])
def test_the_docs_page_runs_only_its_own_scripts(request, mode):
    client = request.getfixturevalue("embedded" if mode == "embedded" else "client")
    page = client.get("/api/docs/")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    inline = re.findall(rb"<script>(.*?)</script>", page.get_data(), re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy.split("style-src")[0]  # scripts: no inline code but the page's own
    assert page.headers["X-Frame-Options"] == "DENY"
    asset = client.get(re.search(rb'src="([^"]+\.js)"', page.get_data()).group(1).decode())
    assert asset.status_code == 200 and asset.headers["X-Content-Type-Options"] == "nosniff"
    asset.close()
