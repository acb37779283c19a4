"""Typed dependencies: a replaced dependency is what every handler gets, and a database that is down
gives the JSON API one 503 sentence while pages still render with a notice."""

from __future__ import annotations

from typing import NoReturn

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp.database import DatabaseUnavailable, Entry
from webapp.deps import get_database, get_process
from webapp.errors import DATABASE_UNAVAILABLE
from webapp.process import ProcessInfo


class DownDatabase:
    """A database that answers nothing: every operation fails the way an unreachable one does."""

    attempts = 0  # how often a request waited for it, all instances together

    def _fail(self) -> NoReturn:
        DownDatabase.attempts += 1
        raise DatabaseUnavailable("down for this test")

    def count_view(self, path: str) -> int:
        self._fail()

    def view_totals(self) -> dict[str, int]:
        self._fail()

    def add_entry(self, name: str, message: str) -> Entry:
        self._fail()

    def recent_entries(self, limit: int) -> list[Entry]:
        self._fail()


@pytest.fixture
def database_down(make_client: MakeClient) -> TestClient:
    return make_client(dependencies={get_database: DownDatabase})


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/views", None),
        ("GET", "/api/guestbook", None),
        ("POST", "/api/guestbook", {"name": "a", "message": "b"}),
    ],
)
def test_the_json_api_answers_503_with_one_sentence(
    database_down: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = database_down.request(method, path, json=body, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 503
    assert response.json() == {"detail": DATABASE_UNAVAILABLE}
    korean = database_down.request(method, path, json=body, params={"lang": "ko"})
    assert korean.status_code == 503
    assert korean.json()["detail"].startswith("지금은 데이터베이스에 연결할 수 없어")


@pytest.mark.parametrize("path", ["/dynamic", "/compare", "/log", "/bench", "/guestbook"])
def test_pages_render_with_a_notice_and_no_view_count(database_down: TestClient, path: str) -> None:
    response = database_down.get(path)
    assert response.status_code == 200
    assert "데이터베이스에 연결할 수 없습니다" in response.text
    assert 'id="page-views"' not in response.text


def test_a_page_waits_for_a_database_that_is_down_once(database_down: TestClient) -> None:
    for path in ("/guestbook", "/dynamic"):
        DownDatabase.attempts = 0
        assert database_down.get(path).status_code == 200
        assert DownDatabase.attempts == 1, path


def test_every_handler_gets_the_replaced_process(make_client: MakeClient) -> None:
    shared = ProcessInfo(pid=4242)
    client = make_client(dependencies={get_process: lambda: shared})
    assert client.get("/api/now").json()["pid"] == 4242
    assert 'id="pid">4242<' in client.get("/dynamic").text
    assert client.get("/api/requests").json()["pid"] == 4242
    assert shared.last_render("dynamic.html") is not None


class RefusingPasswordDatabase(DownDatabase):
    def _fail(self) -> NoReturn:
        raise DatabaseUnavailable('connection failed: FATAL:  password authentication failed for user "webapp"')


def test_a_refused_post_names_why_the_database_could_not_store_it(make_client: MakeClient) -> None:
    client = make_client(dependencies={get_database: RefusingPasswordDatabase})
    page = client.post(
        "/guestbook?lang=ko",
        content="name=a&message=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 503
    assert "데이터베이스가 비밀번호를 받아들이지 않았습니다" in page.text
    assert 'value="a"' in page.text  # what was typed is not lost
    assert "webapp" not in page.text.split('class="notice"')[1].split("</div>")[0]  # no user name for a visitor
