"""Links and redirects are paths, looked up in the router once, whatever Host a client sends."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient

PAGES = ["/dynamic", "/compare", "/guestbook", "/log", "/bench", "/source/templates/dynamic.html", "/docs"]
# hreflang alternates are the one place a full address is required (search engines ignore relative ones).
LINK = re.compile(r'<(?!link rel="alternate")[^>]*\b(?:href|src|action|data-url)="([^"]*)"')


@pytest.mark.parametrize("path", PAGES)
def test_every_link_on_a_page_is_a_path_whatever_the_host(client: TestClient, path: str) -> None:
    html = client.get(path, headers={"host": "evil.example"}).text
    links = LINK.findall(html)
    assert links, path
    assert [link for link in links if not link.startswith(("/", "#"))] == []
    assert "evil.example" not in re.sub(r'<link rel="alternate"[^>]*>', "", html)


@pytest.mark.parametrize("path", [*PAGES, "/spectrum"])
def test_every_link_within_a_page_points_at_something_on_it(client: TestClient, path: str) -> None:
    html = client.get(path).text
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert [link for link in LINK.findall(html) if link.startswith("#") and link[1:] not in ids] == []


@pytest.mark.parametrize(("path", "location"), [("/", "/static/index.html"), ("/favicon.ico", "/static/favicon.ico")])
def test_redirects_are_paths_whatever_the_host(client: TestClient, path: str, location: str) -> None:
    response = client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
    assert response.headers["location"] == location


def test_the_guestbook_form_redirects_to_a_path(client: TestClient) -> None:
    response = client.post(
        "/guestbook", data={"name": "a", "message": "b"}, headers={"host": "evil.example"}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/guestbook")


def test_the_router_is_walked_once_per_link_not_once_per_render(make_client: MakeClient) -> None:
    client = make_client()
    app: Any = client.app
    walks: list[str] = []
    original = app.url_path_for

    def counting(name: str, /, **params: Any) -> Any:
        walks.append(name)
        return original(name, **params)

    app.url_path_for = counting
    client.get("/compare")
    first = len(walks)
    assert first > 5  # the menu, the scripts, the two sides
    for _ in range(3):
        client.get("/compare")
        client.get("/compare?lang=en")
    assert len(walks) == first + 1  # the English home page link, once
