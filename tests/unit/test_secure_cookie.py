"""The language cookie is Secure when the page came over HTTPS, so a browser never sends it back over plain HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_the_language_cookie_is_secure_over_https(client: TestClient) -> None:
    picked = client.get("https://testserver/compare?lang=en")
    assert picked.headers["set-cookie"] == "lang=en; Max-Age=31536000; Path=/; SameSite=lax; Secure"


def test_the_language_cookie_is_not_secure_over_plain_http(client: TestClient) -> None:
    # The local demo serves plain HTTP too: a Secure cookie would not come back there, and the language with it.
    picked = client.get("http://testserver/compare?lang=en")
    assert picked.headers["set-cookie"] == "lang=en; Max-Age=31536000; Path=/; SameSite=lax"
