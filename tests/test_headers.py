"""Security headers on every response, a strict Content Security Policy, and /docs that still works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import PROJECT_ROOT
from webapp.headers import CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ping"),
        ("GET", "/static/index.html"),
        ("GET", "/static/missing.css"),
        ("POST", "/static/index.html"),
        ("GET", "/dynamic"),
        ("GET", "/api/now"),
        ("GET", "/api/requests?limit=0"),
        ("GET", "/no/such/page"),
        ("GET", "/guestbook"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/"),
    ],
)
def test_every_response_carries_the_security_headers(client: TestClient, method: str, path: str) -> None:
    headers = client.request(method, path, follow_redirects=False).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/dynamic", "/compare", "/log", "/bench", "/guestbook", "/source/static/index.html"])
def test_pages_allow_only_the_sites_own_scripts_and_styles(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "style-src 'self';" in CONTENT_SECURITY_POLICY
    # Nothing inline that the policy would block: no <script> without src, no style attributes or blocks.
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert " style=" not in response.text
    assert "<style" not in response.text
    assert not re.search(r"\son[a-z]+=", response.text)


def test_static_pages_have_nothing_inline_either() -> None:
    for page in Path(PROJECT_ROOT, "static").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), page
        assert " style=" not in text and "<style" not in text, page


def test_docs_page_loads_swagger_ui_from_this_site(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == ["http://testserver/docs-assets/swagger-ui-bundle.js", "http://testserver/static/docs.js"]
    assert "style-src 'self' 'unsafe-inline'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    bundle = client.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == "text/javascript; charset=utf-8"
    assert b"SwaggerUIBundle" in bundle.content
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/guestbook"]["post"]
