"""Every response states what a cache may do with it, and REDbot's rules (httplint) find nothing to warn about."""

from __future__ import annotations

import re
from email.utils import formatdate

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.cachelint import ALLOWED, SAMPLES, STREAMS, caching_complaints
from tests.support import get_routes
from webapp import caching
from webapp.settings import Settings


def _complaints(response: httpx.Response, policy: str = caching.MADE_FOR_THIS_REQUEST) -> list[str]:
    """REDbot's caching warnings about a response of the app, with the Date header uvicorn and nginx add."""
    headers = [*response.headers.items(), ("date", formatdate(usegmt=True))]
    allowed = ALLOWED.get(policy, set())
    notes = caching_complaints(response.status_code, headers, response.content)
    return [note for note in notes if note.split(":")[0] not in allowed]


def test_every_get_route_has_a_sample(client: TestClient) -> None:
    sampled = {re.sub(r"/(index|dynamic)\.html$", "/{path:path}", path.split("?")[0]) for path in SAMPLES}
    assert get_routes(client.app) <= sampled  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "policy"), SAMPLES.items())
def test_every_response_states_its_cache_policy(client: TestClient, path: str, policy: str) -> None:
    # A stream that stays open is asked for its headers alone (HEAD): the test client would wait for its end.
    response = client.head(path) if path in STREAMS else client.get(path, follow_redirects=False)
    assert response.headers.get("cache-control") == policy, path
    assert _complaints(response, policy) == []


def test_head_and_refused_posts_state_one_too(client: TestClient) -> None:
    for response in (
        client.head("/api/now"),
        client.post("/api/guestbook", json={"name": ""}),
        client.post("/guestbook", data={"name": "", "message": ""}),
        client.delete("/ping"),
    ):
        assert response.headers.get("cache-control") == caching.MADE_FOR_THIS_REQUEST, response.request.url
        assert _complaints(response) == []


def test_a_fingerprinted_name_is_kept_a_year_and_sends_the_file(client: TestClient, site_settings: Settings) -> None:
    spectrum = client.get("/spectrum").text
    stamp = re.search(r"/static/stamp\.[0-9a-f]{10}\.svg", spectrum)
    assert stamp, "the spectrum page links the fingerprinted stamp"
    response = client.get(stamp.group(0))
    assert response.status_code == 200
    assert response.headers["cache-control"] == caching.FINGERPRINTED
    assert response.content == (site_settings.static_dir / "stamp.svg").read_bytes()
    assert _complaints(response, caching.FINGERPRINTED) == []


def test_an_edit_gives_the_file_a_new_name_at_once(client: TestClient, site_settings: Settings) -> None:
    before = re.findall(r"/static/stamp\.[0-9a-f]{10}\.svg", client.get("/spectrum").text)[0]
    stamp = site_settings.static_dir / "stamp.svg"
    stamp.write_text(stamp.read_text().replace("v1", "v2"))
    after = re.findall(r"/static/stamp\.[0-9a-f]{10}\.svg", client.get("/spectrum").text)[0]
    assert after != before
    assert b"v2" in client.get(after).content


@pytest.mark.parametrize("path", ["/static/nothing.0123456789.svg", "/static/index.0123456789.html", "/static/.env"])
def test_what_is_not_a_fingerprinted_file_is_not_found(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_a_fingerprinted_name_of_a_dot_file_is_not_served(client: TestClient, site_settings: Settings) -> None:
    (site_settings.static_dir / ".secret.css").write_text("do-not-show")
    response = client.get("/static/.secret.0123456789.css")
    assert response.status_code == 404 and "do-not-show" not in response.text


def test_the_shared_page_shows_nothing_of_the_visitor_and_ignores_their_language_choices(client: TestClient) -> None:
    headers = {"user-agent": "Visitor-Browser/1.0", "accept-language": "en", "cookie": "lang=en"}
    response = client.get("/dynamic/shared", headers=headers)
    assert "Visitor-Browser" not in response.text and "testclient" not in response.text
    assert '<html lang="ko">' in response.text  # the address says nothing, so Korean: not the cookie's English
    assert "set-cookie" not in response.headers and "vary" not in response.headers
    english = client.get("/dynamic/shared?lang=en", headers=headers)
    assert '<html lang="en">' in english.text and "set-cookie" not in english.headers


def test_the_shared_page_greets_the_name_in_its_own_address(client: TestClient) -> None:
    assert "Alice" in client.get("/dynamic/shared?name=Alice").text
    assert "Alice" not in client.get("/dynamic/shared?name=Bob").text
