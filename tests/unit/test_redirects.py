"""Every redirect the site sends is a path: whatever Host a client sends never ends up in a Location."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from webapp.redirects import as_path

FORGED = {"Host": "evil.example"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_trailing_slash_redirects_to_the_path_without_it_whatever_the_host(client: TestClient) -> None:
    response = client.get("/ping/?a=1&b=2", headers=FORGED, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/ping?a=1&b=2"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/", {}),
        ("GET", "/favicon.ico", {}),
        ("GET", "/ping/", {}),
        ("GET", "/guestbook/", {}),
        ("GET", "/api/guestbook/?limit=2", {}),
        ("POST", "/guestbook", {"content": "name=a&message=b", "headers": FORM}),
    ],
)
def test_every_redirect_of_the_site_is_a_path(client: TestClient, method: str, path: str, kwargs: dict) -> None:
    headers = {**FORGED, **kwargs.pop("headers", {})}
    response = client.request(method, path, headers=headers, follow_redirects=False, **kwargs)
    assert 300 <= response.status_code < 400, response.text
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert "evil.example" not in location


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("http://evil.example/ping?x=1", "/ping?x=1"),
        ("https://evil.example:8443/a/b#part", "/a/b#part"),
        ("http://evil.example", "/"),
        ("//evil.example/ping", "/ping"),
        # A path that starts with two slashes names a host again; browsers read a backslash as a slash.
        ("http://127.0.0.1:8000//evil.example/ping", "/evil.example/ping"),
        ("/\\evil.example/ping", "/evil.example/ping"),
        ("\\\\evil.example/ping", "/evil.example/ping"),
        # Paths stay as they are; other schemes name no host of the site's.
        ("/guestbook", "/guestbook"),
        ("/static/index.html?lang=en", "/static/index.html?lang=en"),
        ("mailto:someone@example.org", "mailto:someone@example.org"),
    ],
)
def test_as_path(location: str, path: str) -> None:
    assert as_path(location) == path
