"""The database layer on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from webapp.database import Database, DatabaseUnavailable


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.create_tables()
    yield db
    db.dispose()


def test_count_view_returns_the_new_total_per_path(database: Database) -> None:
    assert [database.count_view("/dynamic") for _ in range(3)] == [1, 2, 3]
    assert database.count_view("/compare") == 1
    assert database.view_totals() == {"/compare": 1, "/dynamic": 3}


def test_concurrent_counting_loses_nothing(database: Database) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        totals = list(pool.map(lambda _: database.count_view("/dynamic"), range(200)))
    assert sorted(totals) == list(range(1, 201))
    assert database.view_totals() == {"/dynamic": 200}


def test_entries_come_back_newest_first(database: Database) -> None:
    for number in range(5):
        database.add_entry(f"name {number}", f"message {number}")
    assert [entry.name for entry in database.recent_entries(3)] == ["name 4", "name 3", "name 2"]
    assert database.entry_count() == 5


def test_sql_in_text_is_stored_as_text(database: Database) -> None:
    database.add_entry("'; DROP TABLE entry; --", "Robert'); DROP TABLE pageview;--")
    database.count_view("/x'; DELETE FROM pageview; --")
    entry = database.recent_entries(1)[0]
    assert (entry.name, entry.message) == ("'; DROP TABLE entry; --", "Robert'); DROP TABLE pageview;--")
    assert database.view_totals() == {"/x'; DELETE FROM pageview; --": 1}


def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "site.db"
    database = Database(f"sqlite:///{path}")
    database.count_view("/dynamic")
    database.dispose()
    assert path.is_file()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody:wrong@127.0.0.1:1/none",
        "sqlite:////proc/no-such-folder/site.db",
    ],
)
def test_unreachable_database_raises_database_unavailable(url: str) -> None:
    database = Database(url)
    assert database.try_create_tables() is False
    for operation in (
        lambda: database.count_view("/dynamic"),
        database.view_totals,
        lambda: database.recent_entries(5),
    ):
        with pytest.raises(DatabaseUnavailable):
            operation()
