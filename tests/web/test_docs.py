"""/api/docs/ works offline: the Swagger UI page and every file it loads come from the app itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mutiroes.web import docs


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.scripts.append(attributes["src"])
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"])


def _page_assets(html: str) -> _Assets:
    parser = _Assets()
    parser.feed(html)
    return parser


def test_docs_page_names_no_external_host(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    hosts = {m.group(1) for m in re.finditer(r"(?:https?:)?//([^/\"'\s]+)", html)}
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
    assert '"validatorUrl": null' in html


def test_every_file_the_docs_page_loads_is_served_by_the_app(client):
    assets = _page_assets(client.get("/api/docs/").get_data(as_text=True))
    assert len(assets.scripts) == 2 and len(assets.stylesheets) == 1
    expected = {".js": "text/javascript", ".css": "text/css"}
    for url in assets.scripts + assets.stylesheets:
        assert url.startswith(docs.ASSETS_URL), url
        with client.get(url) as response:  # a file response: closed once read
            assert response.status_code == 200, url
            assert response.mimetype == expected[url[url.rindex(".") :]], url
            assert len(response.get_data()) > 10_000, url
            assert "max-age=31536000" in response.headers["Cache-Control"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_only_the_files_the_page_needs_are_served(client):
    # the bundle's own index.html and initializer open the petstore demo from an external host
    for name in ("index.html", "swagger-initializer.js", "../__init__.py", "swagger-ui-bundle.js.map"):
        assert client.get(f"{docs.ASSETS_URL}{name}").status_code == 404, name
