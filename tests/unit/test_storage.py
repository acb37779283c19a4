"""The database opens after the server's first answers, or on a page's first need: never before /ping.

SQLAlchemy is a third of the site's start-up, and after a code edit under --reload the learner's /ping
waits for every import of the new process.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.unit.conftest import MakeClient
from webapp.paths import PROJECT_ROOT
from webapp.settings import Settings
from webapp.storage import CAUSE_SENTENCES, Cause, DatabaseUnavailable, Storage

NOTICE = "The database cannot be reached (database unavailable)"
OPEN_SECONDS = 10  # generous: a shared machine may be slow to import SQLAlchemy


def test_importing_the_site_does_not_import_sqlalchemy() -> None:
    """A regression guard: whatever imports SQLAlchemy at the top of a module the site loads undoes this."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, webapp.main; print(sorted({m.split('.')[0] for m in sys.modules}))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "'fastapi'" in loaded  # the check itself works
    assert "'sqlalchemy'" not in loaded and "'sqlmodel'" not in loaded
    # Nor what only a class needs (webapp/network.py): this machine's addresses and QR codes.
    assert "'psutil'" not in loaded and "'segno'" not in loaded


def _tables(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with closing(sqlite3.connect(path)) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_tables_are_made_after_start_up_without_a_page(make_client: MakeClient, site_settings: Settings) -> None:
    make_client()
    database_file = Path(site_settings.database_url.removeprefix("sqlite:///"))
    deadline = time.monotonic() + OPEN_SECONDS
    while _tables(database_file) != {"pageview", "entry"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tables(database_file) == {"pageview", "entry"}


def test_a_page_right_after_start_up_waits_for_the_database_and_counts(make_client: MakeClient) -> None:
    client = make_client()
    assert 'id="stored-views" data-value="1">' in client.get("/dynamic").text
    created = client.post("/api/guestbook", json={"name": "첫", "message": "right after the start"})
    assert created.status_code == 201, created.text
    assert client.get("/api/guestbook").json()["entries"][0]["message"] == "right after the start"


def test_a_database_url_nobody_can_open_leaves_the_site_up_and_says_why_once(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        client = make_client(database_url="nosuchdatabase://somewhere/site")
        assert client.get("/ping").json() == {"message": "pong"}
        page = client.get("/dynamic", params={"lang": "en"})
        assert client.get("/api/views").status_code == 503
    assert page.status_code == 200
    assert CAUSE_SENTENCES[Cause.OTHER] in page.text
    lines = [record.getMessage() for record in caplog.records if NOTICE in record.getMessage()]
    assert len(lines) == 1, caplog.text
    assert CAUSE_SENTENCES[Cause.OTHER] in lines[0] and "nosuchdatabase" in lines[0]


def test_a_database_down_at_start_up_is_said_once_however_many_pages_came_first(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        client = make_client(database_url="sqlite:////proc/no-such-folder/site.db")
        pages = [client.get("/dynamic", params={"lang": "en"}).text for _ in range(3)]
    assert all(CAUSE_SENTENCES[Cause.SQLITE_FILE] in page for page in pages)
    lines = [record.getMessage() for record in caplog.records if NOTICE in record.getMessage()]
    assert len(lines) == 1, caplog.text


def test_a_page_that_gives_up_waiting_does_not_stop_the_opening_for_the_others(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'site.db'}")

    async def two_pages() -> int:
        impatient = asyncio.ensure_future(storage.count_view("/dynamic"))
        await asyncio.sleep(0)
        impatient.cancel()  # its visitor closed the connection while the database was opening
        return await asyncio.wait_for(storage.count_view("/dynamic"), OPEN_SECONDS)

    try:
        assert asyncio.run(two_pages()) >= 1
    finally:
        storage.dispose()


def test_a_database_closed_before_it_opened_makes_nothing(tmp_path: Path) -> None:
    """The server stopped before the database opened (lifespan's end): opening it then leaves it closed."""
    storage = Storage(f"sqlite:///{tmp_path / 'site.db'}")
    storage.dispose()
    database = asyncio.run(asyncio.wait_for(storage.open(), OPEN_SECONDS))
    with pytest.raises(DatabaseUnavailable, match="closed"):
        asyncio.run(database.count_view("/dynamic"))
    assert not (tmp_path / "site.db").exists()
