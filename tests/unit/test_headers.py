"""Security headers on every response, and a strict Content Security Policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp.headers import CONTENT_SECURITY_POLICY
from webapp.paths import PROJECT_ROOT


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


def test_a_bug_still_answers_500_with_the_sites_headers(make_client: MakeClient) -> None:
    client = make_client()
    app: FastAPI = client.app  # type: ignore[assignment]

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as raw:
        response = raw.get("/broken")
    assert response.status_code == 500 and "a bug" not in response.text  # what it says: test_servererrors.py
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
