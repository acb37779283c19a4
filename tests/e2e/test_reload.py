"""The lesson's last step: edit a file, reload the browser, see the change.

Runs `uvicorn --reload` the way the README says, on a copy of the project.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import README_RELOAD_ARGS, LiveServer, copy_project, run_site, wait_for

RELOAD_SECONDS = 15


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project, free to edit."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def server(project: Path) -> Iterator[LiveServer]:
    """`uvicorn --reload` on the copy, started from it as the README says."""
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project) as running:
        yield running


def test_editing_ping_shows_on_the_next_request(project: Path, server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/ping").json() == {"message": "pong"}

    main = project / "webapp" / "main.py"
    edited = main.read_text().replace('return {"message": "pong"}', 'return {"message": "Hello"}')
    assert edited != main.read_text(), "the lesson's return value is not where the README says"
    main.write_text(edited)

    wait_for(
        lambda: httpx.get(f"{server.url}/ping", timeout=2).json() == {"message": "Hello"},
        seconds=RELOAD_SECONDS,
        what=f"/ping to answer Hello after the edit; server output:\n{server.output()}",
    )
    assert "Reloading" in server.output() or "WatchFiles detected changes" in server.output()


def test_editing_a_template_or_a_static_file_shows_without_restart(project: Path, server: LiveServer) -> None:
    with server.client() as client:
        pid_before = client.get("/api/now").json()["pid"]
        assert "수업 중에 고친 줄" not in client.get("/dynamic").text

        template = project / "templates" / "dynamic.html"
        template.write_text(
            template.read_text().replace("{% block content %}", "{% block content %}<p>수업 중에 고친 줄</p>")
        )
        stylesheet = project / "static" / "style.css"
        stylesheet.write_text(stylesheet.read_text() + "\n/* edited in class */\n")

        wait_for(
            lambda: "수업 중에 고친 줄" in client.get("/dynamic").text,
            seconds=RELOAD_SECONDS,
            what="the template edit to show",
        )
        assert client.get("/static/style.css").text.endswith("/* edited in class */\n")
        # Neither edit needed a restart: the same process answered.
        assert client.get("/api/now").json()["pid"] == pid_before


def test_editing_a_translation_shows_without_restart(project: Path, server: LiveServer) -> None:
    with server.client() as client:
        pid_before = client.get("/api/now").json()["pid"]
        assert "<h1>동적 페이지</h1>" in client.get("/dynamic?lang=ko").text

        catalogue = project / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
        text = catalogue.read_text(encoding="utf-8")
        assert 'msgid "Dynamic page"\nmsgstr "동적 페이지"' in text
        catalogue.write_text(text.replace('msgstr "동적 페이지"', 'msgstr "수업 중에 고친 제목"'), encoding="utf-8")

        wait_for(
            lambda: "<h1>수업 중에 고친 제목</h1>" in client.get("/dynamic?lang=ko").text,
            seconds=RELOAD_SECONDS,
            what="the translation edit to show",
        )
        assert client.get("/api/now").json()["pid"] == pid_before  # no restart
