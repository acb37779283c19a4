"""Static files: the same bytes every time, with headers that make a browser revalidate."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp.settings import Settings

STATIC_FILES = ["index.html", "style.css", "compare.js", "layers.svg"]


@pytest.mark.parametrize("name", STATIC_FILES)
def test_static_file_bytes_equal_the_file_on_disk(client: TestClient, site_settings: Settings, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200, response.text
    assert response.content == (site_settings.static_dir / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("compare.js", "text/javascript; charset=utf-8"),
        ("layers.svg", "image/svg+xml"),
    ],
)
def test_static_files_have_the_type_a_browser_needs(client: TestClient, name: str, content_type: str) -> None:
    assert client.get(f"/static/{name}").headers["content-type"] == content_type


def test_static_response_carries_validators_and_a_revalidate_policy(client: TestClient) -> None:
    headers = client.get("/static/index.html").headers
    assert headers["etag"].startswith('"')
    assert headers["last-modified"].endswith("GMT")
    assert headers["cache-control"] == "no-cache"


def test_cache_policy_comes_from_settings(make_client: MakeClient) -> None:
    client = make_client(static_cache_control="public, max-age=60")
    assert client.get("/static/style.css").headers["cache-control"] == "public, max-age=60"


def test_unchanged_file_revalidates_with_304_and_no_body(client: TestClient) -> None:
    first = client.get("/static/index.html")
    again = client.get("/static/index.html", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "no-cache"


def test_if_modified_since_also_revalidates(client: TestClient) -> None:
    first = client.get("/static/style.css")
    again = client.get("/static/style.css", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 304


def test_edited_file_answers_200_with_the_new_bytes(client: TestClient, site_settings: Settings) -> None:
    page = site_settings.static_dir / "index.html"
    first = client.get("/static/index.html")
    page.write_text("<!doctype html><p>고쳤습니다 (edited)</p>", encoding="utf-8")
    later = os.stat(page).st_mtime + 2  # a different second, as a real edit after a reload would be
    os.utime(page, (later, later))
    again = client.get("/static/index.html", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200
    assert "고쳤습니다" in again.text
    assert again.headers["etag"] != first.headers["etag"]


def test_head_returns_headers_without_body(client: TestClient, site_settings: Settings) -> None:
    response = client.head("/static/style.css")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == (site_settings.static_dir / "style.css").stat().st_size


def test_range_returns_the_requested_bytes(client: TestClient, site_settings: Settings) -> None:
    response = client.get("/static/index.html", headers={"Range": "bytes=0-14"})
    assert response.status_code == 206
    assert response.content == (site_settings.static_dir / "index.html").read_bytes()[:15]
    assert response.headers["content-range"].startswith("bytes 0-14/")


def test_unsatisfiable_range_answers_416(client: TestClient) -> None:
    response = client.get("/static/index.html", headers={"Range": "bytes=999999-"})
    assert response.status_code == 416


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(client: TestClient, method: str) -> None:
    response = client.request(method, "/static/index.html")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_missing_static_file_answers_404(client: TestClient) -> None:
    response = client.get("/static/missing.css")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_etag_is_the_one_nginx_sends(client: TestClient, site_settings: Settings) -> None:
    stat = (site_settings.static_dir / "style.css").stat()
    assert client.get("/static/style.css").headers["etag"] == f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
