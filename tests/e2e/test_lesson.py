"""The lesson's flow on real uvicorn processes: the site, started elsewhere, and lesson/main.py as in the lesson."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support import LiveServer, wait_for
from tools.processes import run_uvicorn
from webapp.paths import PROJECT_ROOT


def test_ping_answers_pong(live_server: LiveServer) -> None:
    response = live_server.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"message": "pong"}


def test_unknown_path_answers_not_found(live_server: LiveServer) -> None:
    response = live_server.get("/")
    assert response.status_code == 307  # the home page is the static index
    response = live_server.get("/this/page/does/not/exist")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_access_log_shows_the_lesson_lines(live_server: LiveServer) -> None:
    with live_server.client() as client:
        client.get("/ping")
        client.get("/not-here")
    output = wait_for(
        lambda: (text := live_server.output()) and '"GET /not-here HTTP/1.1" 404 Not Found' in text and text,
        seconds=5,
        what="the access log lines",
    )
    assert re.search(r'INFO: +127\.0\.0\.1:\d+ - "GET /ping HTTP/1\.1" 200 OK', output)


def test_static_page_is_the_file_on_disk_every_time(live_server: LiveServer) -> None:
    on_disk = (PROJECT_ROOT / "static" / "index.html").read_bytes()
    with live_server.client() as client:
        bodies = [client.get("/static/index.html").content for _ in range(3)]
    assert bodies == [on_disk] * 3


def test_dynamic_page_differs_every_time(live_server: LiveServer) -> None:
    with live_server.client() as client:
        bodies = [client.get("/dynamic").content for _ in range(3)]
    assert len(set(bodies)) == 3


def test_revalidation_answers_304(live_server: LiveServer) -> None:
    with live_server.client() as client:
        first = client.get("/static/style.css")
        again = client.get("/static/style.css", headers={"If-None-Match": first.headers["etag"]})
    assert first.headers["cache-control"] == "no-cache"
    assert again.status_code == 304
    assert again.content == b""


def test_range_request_returns_part_of_the_file(live_server: LiveServer) -> None:
    on_disk = (PROJECT_ROOT / "static" / "layers.svg").read_bytes()
    response = live_server.get("/static/layers.svg", headers={"Range": "bytes=10-29"})
    assert response.status_code == 206
    assert response.content == on_disk[10:30]


def test_request_log_sees_the_real_client(live_server: LiveServer) -> None:
    with live_server.client() as client:
        client.get("/api/now")
        entry = client.get("/api/requests?limit=1").json()["requests"][0]
    assert entry["path"] == "/api/now"
    assert entry["client"].startswith("127.0.0.1:")


def test_the_lessons_own_main_runs_as_the_lesson_runs_it(tmp_path: Path) -> None:
    """`uvicorn main:app` from lesson/: / is 404 Not Found, /ping is pong, and the terminal shows both."""
    lesson = PROJECT_ROOT / "lesson"
    with run_uvicorn(app="main:app", app_dir=lesson, cwd=lesson, log_path=tmp_path / "uvicorn.log") as server:
        root = httpx.get(f"{server.url}/")
        ping = httpx.get(f"{server.url}/ping")
        output = wait_for(
            lambda: (text := server.output()) and '"GET /ping HTTP/1.1" 200 OK' in text and text,
            seconds=5,
            what="the access log lines",
        )
    assert (root.status_code, root.json()) == (404, {"detail": "Not Found"})
    assert (ping.status_code, ping.json()) == (200, {"message": "pong"})
    assert '"GET / HTTP/1.1" 404 Not Found' in output
