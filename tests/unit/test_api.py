"""JSON endpoints whose output is made by server logic."""

from __future__ import annotations

import os
from datetime import datetime

from fastapi.testclient import TestClient


def test_now_changes_on_every_call(client: TestClient) -> None:
    first, second = client.get("/api/now").json(), client.get("/api/now").json()
    assert first["pid"] == second["pid"] == os.getpid()
    assert second["counter"] == first["counter"] + 1
    assert datetime.fromisoformat(second["time"]) >= datetime.fromisoformat(first["time"])


def test_inspect_shows_the_request_as_the_app_sees_it(client: TestClient) -> None:
    body = client.get("/api/inspect?a=1&a=2&b=x", headers={"X-Lesson": "static-vs-dynamic"}).json()
    assert body["method"] == "GET"
    assert body["path"] == "/api/inspect"
    assert body["query"] == {"a": ["1", "2"], "b": ["x"]}
    assert body["headers"]["x-lesson"] == "static-vs-dynamic"
    assert body["client"]["host"] == "testclient"
    assert body["scheme"] == "http"


def test_requests_lists_recent_requests_newest_first(client: TestClient) -> None:
    client.get("/static/style.css")
    client.get("/ping")
    client.get("/missing")
    entries = client.get("/api/requests").json()["requests"]
    assert [(e["method"], e["path"], e["status"], e["kind"]) for e in entries[:3]] == [
        ("GET", "/missing", 404, "dynamic"),
        ("GET", "/ping", 200, "dynamic"),
        ("GET", "/static/style.css", 200, "static"),
    ]


def test_requests_limit_is_validated(client: TestClient) -> None:
    for _ in range(3):
        client.get("/ping")
    assert len(client.get("/api/requests?limit=2").json()["requests"]) == 2
    for bad in ("0", "1001", "many"):
        response = client.get(f"/api/requests?limit={bad}")
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_every_app_response_says_which_process_made_it(client: TestClient) -> None:
    for path in ("/ping", "/dynamic", "/static/style.css", "/missing"):
        assert client.get(path).headers["x-served-by"] == f"uvicorn pid {os.getpid()}", path
