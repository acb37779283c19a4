"""Why the database is unavailable, in a sentence the learner can act on: on the start-up line in the
system's language, and on the pages' notice in the page's language, never with the password."""

from __future__ import annotations

import logging
from typing import NoReturn

import pytest
from fastapi.testclient import TestClient

from tests.conftest import postgres_url_or_skip
from tests.unit.conftest import MakeClient
from webapp.database import CAUSE_SENTENCES, Cause, Database, DatabaseUnavailable, Entry, cause_of, start_up_line
from webapp.deps import get_database
from webapp.terminal import translations

pytestmark = pytest.mark.anyio

# Each message as DatabaseUnavailable carries it (the driver's first line), recorded from PostgreSQL 17 on this
# machine through psycopg 3 and SQLAlchemy, from SQLite, and from webapp/lanes.py: a wrong password, a URL
# without one, a role that does not exist (over the socket, where PostgreSQL says so), a missing database,
# a closed port, no server socket, an unknown host, a port that accepts and never answers, a slow statement,
# a role without rights on the database, a folder SQLite cannot open, another program's write lock.
RECORDED: list[tuple[Cause, str]] = [
    (
        Cause.PASSWORD,
        '(psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        'FATAL:  password authentication failed for user "webapp"',
    ),
    (
        Cause.PASSWORD,
        '(psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        "fe_sendauth: no password supplied",
    ),
    (
        Cause.NO_USER,
        '(psycopg.OperationalError) connection failed: connection to server on socket "/var/run/postgresql/'
        '.s.PGSQL.5432" failed: FATAL:  role "root" does not exist',
    ),
    (
        Cause.NO_DATABASE,
        '(psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        'FATAL:  database "nosuchdb" does not exist',
    ),
    (
        Cause.REFUSED,
        '(psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 1 failed: '
        "Connection refused",
    ),
    (
        Cause.REFUSED,
        '(psycopg.OperationalError) connection is bad: connection to server on socket "/nonexistent/.s.PGSQL.5432" '
        "failed: No such file or directory",
    ),
    (
        Cause.UNKNOWN_HOST,
        "(psycopg.OperationalError) failed to resolve host 'nosuchhost.invalid': [Errno -2] Name or service not known",
    ),
    (Cause.TIMEOUT, "(psycopg.errors.ConnectionTimeout) connection timeout expired"),
    (Cause.TIMEOUT, "no answer from the database within 2.0 s"),
    (Cause.TIMEOUT, "(psycopg.errors.QueryCanceled) canceling statement due to statement timeout"),
    (Cause.PERMISSION, "(psycopg.errors.InsufficientPrivilege) permission denied for schema public"),
    (Cause.SQLITE_FILE, "(sqlite3.OperationalError) unable to open database file"),
    (Cause.LOCKED, "(sqlite3.OperationalError) database is locked"),
    (Cause.LOCKED, "database is locked"),
    (
        Cause.OTHER,
        '(psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        "server does not support SSL, but SSL was required",
    ),
    (Cause.OTHER, '(psycopg.ProgrammingError) invalid connection option "bogus"'),
]
# What a visitor must not learn from a page: the server's user, host, port, socket and database names.
SERVER_DETAILS = ("127.0.0.1", "port 5432", "PGSQL", "webapp&#34;", 'webapp"', "root", "nosuchdb", "nosuchhost")
PASSWORD = "s3cret-Pw"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def korean_system(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")


def korean(sentence: str) -> str:
    return translations("ko").gettext(sentence)


def down_with(message: str) -> type:
    class DownDatabase:
        """A database that fails every call with `message`, as the real one failed."""

        def _fail(self) -> NoReturn:
            raise DatabaseUnavailable(message)

        def count_view(self, path: str) -> int:
            self._fail()

        def recent_entries(self, limit: int) -> list[Entry]:
            self._fail()

    return DownDatabase


@pytest.mark.parametrize(("cause", "message"), RECORDED)
def test_each_recorded_error_has_its_cause(cause: Cause, message: str) -> None:
    assert cause_of(message) is cause
    assert DatabaseUnavailable(message).cause is cause


@pytest.mark.parametrize("cause", list(Cause))
def test_every_cause_has_a_korean_sentence(cause: Cause) -> None:
    sentence = korean(CAUSE_SENTENCES[cause])
    assert sentence != CAUSE_SENTENCES[cause]
    assert "주세요." in sentence  # says what to check or do


@pytest.mark.parametrize(("cause", "message"), RECORDED)
def test_the_notice_names_the_cause_in_the_pages_language_and_no_server_detail(
    make_client: MakeClient, cause: Cause, message: str
) -> None:
    client = make_client(dependencies={get_database: down_with(message)})
    for path in ("/guestbook", "/dynamic"):
        korean_page = client.get(path, params={"lang": "ko"}).text
        english_page = client.get(path, params={"lang": "en"}).text
        assert korean(CAUSE_SENTENCES[cause]) in korean_page, path
        assert CAUSE_SENTENCES[cause] in english_page, path
        for page in (korean_page, english_page):
            assert not [detail for detail in SERVER_DETAILS if detail in page], path


def test_a_sqlite_file_that_cannot_be_opened_is_named_on_the_page(make_client: MakeClient) -> None:
    client = make_client(database_url="sqlite:////proc/no-such-folder/site.db")
    page = client.get("/dynamic", params={"lang": "en"}).text
    assert CAUSE_SENTENCES[Cause.SQLITE_FILE] in page
    assert "no-such-folder" not in page


@pytest.mark.parametrize(("cause", "message"), RECORDED)
def test_the_start_up_line_says_the_cause_in_korean_on_a_korean_system(
    korean_system: None, cause: Cause, message: str
) -> None:
    url = f"postgresql+psycopg://webapp:{PASSWORD}@127.0.0.1:5432/webapp_test"
    line = start_up_line(url, DatabaseUnavailable(message.replace('"webapp"', f'"webapp" ({PASSWORD})')))
    assert line.startswith("데이터베이스에 연결할 수 없습니다(database unavailable).")
    assert korean(CAUSE_SENTENCES[cause]) in line
    assert "DATABASE_URL=postgresql+psycopg://webapp:***@127.0.0.1:5432/webapp_test" in line
    assert PASSWORD not in line


def test_the_start_up_line_is_english_on_an_english_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    line = start_up_line("sqlite:////proc/no-such-folder/site.db", DatabaseUnavailable(RECORDED[11][1]))
    assert CAUSE_SENTENCES[Cause.SQLITE_FILE] in line
    assert line.endswith("[DATABASE_URL=sqlite:////proc/no-such-folder/site.db] unable to open database file")


async def test_a_closed_port_at_start_up_is_logged_in_korean_without_the_password(
    korean_system: None, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(f"postgresql+psycopg://webapp:{PASSWORD}@127.0.0.1:1/webapp_test")
    with caplog.at_level(logging.WARNING, logger="webapp.database"):
        assert await database.try_create_tables() is False
    database.dispose()
    assert korean(CAUSE_SENTENCES[Cause.REFUSED]) in caplog.text
    assert "webapp:***@127.0.0.1:1/webapp_test" in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_wrong_password_on_the_real_server_is_said_at_start_up_and_on_the_page(
    korean_system: None, caplog: pytest.LogCaptureFixture, make_client: MakeClient
) -> None:
    url = postgres_url_or_skip().replace("webapp:webapp@", f"webapp:{PASSWORD}@")
    assert PASSWORD in url
    with caplog.at_level(logging.WARNING, logger="webapp.database"):
        client: TestClient = make_client(database_url=url)
        page = client.get("/guestbook", params={"lang": "ko"}).text
    sentence = korean(CAUSE_SENTENCES[Cause.PASSWORD])
    assert sentence in caplog.text
    assert 'password authentication failed for user "webapp"' in caplog.text
    assert sentence in page
    assert PASSWORD not in caplog.text
    assert PASSWORD not in page
