"""The database layer on SQLite and on PostgreSQL, as handlers use it: awaited, and never for long."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import postgres_url_or_skip, with_postgres_options
from tests.support import sqlite_locked
from webapp import database as database_module
from webapp.database import (
    DEADLINE_SECONDS,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    STATEMENT_TIMEOUT_MS,
    Database,
    DatabaseUnavailable,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # what uvicorn runs


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    assert await db.try_create_tables()
    yield db
    db.dispose()


async def test_count_view_returns_the_new_total_per_path(database: Database) -> None:
    assert [await database.count_view("/dynamic") for _ in range(3)] == [1, 2, 3]
    assert await database.count_view("/compare") == 1
    assert await database.view_totals() == {"/compare": 1, "/dynamic": 3}


async def test_concurrent_counting_loses_nothing(database: Database) -> None:
    totals = await asyncio.gather(*(database.count_view("/dynamic") for _ in range(200)))
    assert sorted(totals) == list(range(1, 201))
    assert await database.view_totals() == {"/dynamic": 200}


async def test_entries_come_back_newest_first(database: Database) -> None:
    for number in range(5):
        await database.add_entry(f"name {number}", f"message {number}")
    assert [entry.name for entry in await database.recent_entries(3)] == ["name 4", "name 3", "name 2"]
    assert await database.entry_count() == 5


async def test_sql_in_text_is_stored_as_text(database: Database) -> None:
    await database.add_entry("'; DROP TABLE entry; --", "Robert'); DROP TABLE pageview;--")
    await database.count_view("/x'; DELETE FROM pageview; --")
    entry = (await database.recent_entries(1))[0]
    assert (entry.name, entry.message) == ("'; DROP TABLE entry; --", "Robert'); DROP TABLE pageview;--")
    assert await database.view_totals() == {"/x'; DELETE FROM pageview; --": 1}


async def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "site.db"
    database = Database(f"sqlite:///{path}")
    await database.count_view("/dynamic")
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
async def test_unreachable_database_raises_database_unavailable(url: str) -> None:
    database = Database(url)
    assert await database.try_create_tables() is False
    with pytest.raises(DatabaseUnavailable):
        await database.count_view("/dynamic")
    with pytest.raises(DatabaseUnavailable):
        await database.view_totals()
    with pytest.raises(DatabaseUnavailable):
        await database.recent_entries(5)
    database.dispose()


@pytest.fixture
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> tuple[float, float]:
    """The database's deadline and SQLite's busy timeout, a quarter as long: the same rules, checked in a quarter of
    the time (the unit loop's). Returns (deadline, busy timeout)."""
    deadline, busy = DEADLINE_SECONDS / 4, SQLITE_BUSY_TIMEOUT_SECONDS / 4
    monkeypatch.setattr(database_module, "DEADLINE_SECONDS", deadline)
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_SECONDS", busy)
    return deadline, busy


async def test_a_write_lock_held_elsewhere_fails_writes_quickly_and_reads_go_on(
    tmp_path: Path, quick_waits: tuple[float, float]
) -> None:
    deadline, _busy = quick_waits
    path = tmp_path / "site.db"
    database = Database(f"sqlite:///{path}")
    await database.add_entry("before", "the lock")
    await database.count_view("/dynamic")
    with sqlite_locked(path):
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(database.count_view("/dynamic") for _ in range(20)),
            database.add_entry("during", "the lock"),
            return_exceptions=True,
        )
        waited = time.monotonic() - started
        assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes), outcomes
        assert waited < deadline + 0.5
        # WAL: a reader does not wait for a writer, not even another program's.
        assert [entry.name for entry in await database.recent_entries(5)] == ["before"]
    # The lock is gone: everything works again, and the refused entry was not stored.
    assert await database.count_view("/dynamic") == 2
    await database.add_entry("after", "the lock")
    assert [entry.name for entry in await database.recent_entries(5)] == ["after", "before"]
    database.dispose()


async def test_one_write_waits_no_longer_than_sqlites_busy_timeout(
    tmp_path: Path, quick_waits: tuple[float, float]
) -> None:
    deadline, busy = quick_waits
    path = tmp_path / "site.db"
    database = Database(f"sqlite:///{path}")
    await database.count_view("/dynamic")
    with sqlite_locked(path):
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="locked"):
            await database.count_view("/dynamic")
        waited = time.monotonic() - started
    assert busy * 0.9 <= waited < deadline
    database.dispose()


async def test_views_counted_together_each_get_their_own_number(database: Database) -> None:
    # Views that wait together are counted in one commit; each page still shows its own number.
    paths = ["/dynamic", "/compare", "/dynamic", "/log", "/dynamic", "/compare"] * 20
    totals = await asyncio.gather(*(database.count_view(path) for path in paths))
    for path in set(paths):
        numbers = sorted(total for total, counted in zip(totals, paths, strict=True) if counted == path)
        assert numbers == list(range(1, paths.count(path) + 1)), path
    assert await database.view_totals() == {"/compare": 40, "/dynamic": 60, "/log": 20}


async def test_a_steady_stream_of_views_does_not_hold_up_a_guestbook_entry(
    tmp_path: Path, quick_waits: tuple[float, float]
) -> None:
    deadline, _busy = quick_waits
    database = Database(f"sqlite:///{tmp_path / 'site.db'}")  # one writer thread for both kinds of write
    views: list[asyncio.Future[int]] = []
    entry_task: asyncio.Future[object] | None = None
    started = time.monotonic()
    while time.monotonic() - started < deadline / 2:  # views keep arriving, as from many visitors
        views.append(asyncio.ensure_future(database.count_view("/dynamic")))
        if entry_task is None and time.monotonic() - started > deadline / 10:
            entry_task = asyncio.ensure_future(database.add_entry("during", "the views"))
        await asyncio.sleep(0.0002)
    assert entry_task is not None
    entry = await entry_task
    assert entry.id is not None  # stored, not given up on at the deadline
    counted = await asyncio.gather(*views)
    assert sorted(counted) == list(range(1, len(views) + 1))
    database.dispose()


async def test_an_in_memory_database_is_refused_with_a_sentence_saying_what_to_use() -> None:
    database = Database("sqlite://")  # one connection per thread: each thread would see an empty database
    assert await database.try_create_tables() is False
    with pytest.raises(DatabaseUnavailable, match=r"set DATABASE_URL to a file, sqlite:///path/to/site.db"):
        await database.count_view("/dynamic")
    database.dispose()


async def test_two_processes_counting_the_same_pages_in_any_order_never_fail(database_url: str) -> None:
    # Two processes (two Database objects here) whose batches hold the same paths in opposite orders.
    first, second = Database(database_url), Database(database_url)
    paths = ["/dynamic", "/compare", "/log", "/bench"]
    views = [first.count_view(path) for path in paths * 25] + [second.count_view(path) for path in paths[::-1] * 25]
    totals = await asyncio.gather(*views)
    assert all(total > 0 for total in totals)
    assert await first.view_totals() == dict.fromkeys(sorted(paths), 50)
    first.dispose()
    second.dispose()


def test_server_settings_in_database_url_are_kept_beside_the_sites_own_timeouts() -> None:
    """`?options=-c …` in DATABASE_URL (a search path, a time zone) reaches the server with the site's timeouts."""
    url = with_postgres_options(postgres_url_or_skip(), "-c timezone=Asia/Seoul")
    database = Database(url)
    with database.engine.connect() as connection:
        assert connection.execute(text("SHOW timezone")).scalar() == "Asia/Seoul"
        assert connection.execute(text("SHOW statement_timeout")).scalar() == f"{STATEMENT_TIMEOUT_MS}ms"
    database.dispose()
