"""The request log middleware and the /log page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp.requestlog import kind_of
from webapp.settings import Settings


def test_log_records_status_bytes_duration_and_kind(client: TestClient, site_settings: Settings) -> None:
    client.get("/static/index.html")
    entry = client.get("/api/requests").json()["requests"][0]
    assert entry["path"] == "/static/index.html"
    assert entry["status"] == 200
    assert entry["bytes"] == (site_settings.static_dir / "index.html").stat().st_size
    assert entry["duration_ms"] >= 0
    assert entry["kind"] == "static"


def test_head_and_304_are_logged_with_zero_bytes(client: TestClient) -> None:
    etag = client.get("/static/style.css").headers["etag"]
    client.head("/static/style.css")
    client.get("/static/style.css", headers={"If-None-Match": etag})
    entries = client.get("/api/requests").json()["requests"]
    assert [(e["method"], e["status"], e["bytes"]) for e in entries[:2]] == [("GET", 304, 0), ("HEAD", 200, 0)]


def test_log_keeps_only_the_most_recent_entries(make_client: MakeClient) -> None:
    client = make_client(request_log_size=5)
    for number in range(8):
        client.get(f"/ping?n={number}")
    entries = client.get("/api/requests").json()["requests"]
    assert [e["query"] for e in entries] == ["n=7", "n=6", "n=5", "n=4", "n=3"]


def test_log_page_shows_requests_and_escapes_paths(client: TestClient) -> None:
    client.get("/ping")
    client.get("/<b>bold</b>")
    html = client.get("/log").text
    assert "GET /ping" in html
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_kind_of_path() -> None:
    assert kind_of("/static/style.css") == "static"
    assert kind_of("/dynamic") == "dynamic"
    assert kind_of("/staticky") == "dynamic"
