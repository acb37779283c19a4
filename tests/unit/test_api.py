"""JSON endpoints whose output is made by server logic."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest
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


# The JSON API's messages: in the language the pages would choose, with `type` and `loc` unchanged for programs.


@pytest.mark.parametrize(
    ("request_args", "type_", "english", "korean"),
    [
        ({"json": {}}, "missing", "Field required", "값이 필요합니다(이 필드가 빠졌습니다)."),
        (
            {"json": {"name": "a", "message": "b", "x": 1}},
            "extra_forbidden",
            "Extra inputs are not permitted",
            "이 API가 받지 않는 필드입니다.",
        ),
        (
            {"json": {"name": 1, "message": "b"}},
            "string_type",
            "Input should be a valid string",
            "문자열이어야 합니다.",
        ),
        (
            {"content": b"{bad", "headers": {"Content-Type": "application/json"}},
            "json_invalid",
            "JSON decode error",
            "본문을 JSON으로 읽을 수 없습니다.",
        ),
    ],
)
def test_a_refused_post_says_what_is_wrong_in_the_visitors_language(
    client: TestClient, request_args: dict[str, Any], type_: str, english: str, korean: str
) -> None:
    headers = request_args.pop("headers", {})
    in_english = client.post("/api/guestbook", headers={**headers, "Accept-Language": "en-US,en;q=0.9"}, **request_args)
    in_korean = client.post("/api/guestbook", headers={**headers, "Accept-Language": "ko-KR,ko;q=0.9"}, **request_args)
    assert in_english.status_code == in_korean.status_code == 422
    assert [problem["type"] for problem in in_english.json()["detail"]] == [type_] * len(in_english.json()["detail"])
    assert in_english.json()["detail"][0]["msg"] == english  # pydantic's own words, as before
    assert in_korean.json()["detail"][0]["msg"] == korean
    assert [p["loc"] for p in in_english.json()["detail"]] == [p["loc"] for p in in_korean.json()["detail"]]


def test_a_query_outside_its_range_is_refused_with_the_bound_in_the_chosen_language(client: TestClient) -> None:
    assert client.get("/api/requests", params={"limit": 0, "lang": "ko"}).json()["detail"][0]["msg"] == (
        "1 이상이어야 합니다."
    )
    english = client.get("/api/guestbook", params={"limit": 5000, "lang": "en"}).json()["detail"][0]
    assert english == {
        "type": "less_than_equal",
        "loc": ["query", "limit"],
        "msg": "Input should be less than or equal to 1000",
    }
