"""Fixtures both test folders use: the databases every database test runs on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

POSTGRES_URL_VARIABLE = "TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://webapp:webapp@127.0.0.1:5432/webapp_test"
MEMORY_FOLDER = Path("/dev/shm")  # Linux's tmpfs, in memory
MEMORY_NEEDED = 2 * 1024**3  # the e2e tests make venvs; Docker's /dev/shm is 64 MB


def _use_memory_for_tmp_path() -> None:
    """Most tests write a copy of the site and an SQLite database to tmp_path (fsync included): in memory
    rather than on the disk, each costs a third. PYTEST_DEBUG_TEMPROOT, pytest's own setting, wins if set."""
    try:
        folder = os.statvfs(MEMORY_FOLDER)
    except OSError:  # not Linux
        return
    noexec = folder.f_flag & getattr(os, "ST_NOEXEC", 0)
    roomy = folder.f_bavail * folder.f_frsize >= MEMORY_NEEDED
    if roomy and not noexec and os.access(MEMORY_FOLDER, os.W_OK):
        os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(MEMORY_FOLDER))


_use_memory_for_tmp_path()


# Every PostgreSQL test empties its tables as it starts. Under `pytest -n auto` each worker (gw0, gw1…) has
# tables of its own, in a schema of its own of the one test database, so the workers never wait for each other.
# So that two runs on one machine do not empty them under each other, a test also holds a lock on the server,
# one per schema, from its first postgres_url_or_skip() until it ends (the session lock goes with its connection).
POSTGRES_LOCK_KEY = 7_180_018  # any number, the same in every run
_held_postgres_locks: list[Connection] = []


def _worker_number() -> int | None:
    """The pytest-xdist worker this test runs in (gw0 is 0), or None without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def _in_worker_schema(url: str, worker: int) -> str:
    """Given the test database's URL, return it with the worker's schema first on the search path, made if new."""
    schema = f"test_worker_{worker}"
    engine = create_engine(url, connect_args={"connect_timeout": 3}, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    finally:
        engine.dispose()
    return with_postgres_options(url, f"-c search_path={schema}")


def with_postgres_options(url: str, options: str) -> str:
    """Given a PostgreSQL URL, return it with these server settings added to those it has (`?options=`)."""
    parsed = make_url(url)
    given = parsed.query.get("options", ())
    merged = " ".join([*([given] if isinstance(given, str) else given), options])
    return parsed.update_query_dict({"options": merged}).render_as_string(hide_password=False)


def postgres_url_or_skip() -> str:
    """The test PostgreSQL server's URL, emptied of tables; skip (fail under CI) when none answers.

    Call it from a test or a function-scoped fixture: the database is this test's until it ends."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)
    worker = _worker_number()
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        if worker is not None:
            url = _in_worker_schema(url, worker)
            engine.dispose()
            engine = create_engine(url, connect_args={"connect_timeout": 3})
        if not _held_postgres_locks:
            lock = create_engine(url, connect_args={"connect_timeout": 3}, poolclass=NullPool).connect()
            _held_postgres_locks.append(lock)
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": POSTGRES_LOCK_KEY + (worker or 0) + 1})
            lock.commit()  # the lock outlives the transaction; an open one would hold back VACUUM
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS entry, pageview"))
    except OperationalError as error:
        reason = f"no PostgreSQL server at {url} ({str(error).splitlines()[0]}); set {POSTGRES_URL_VARIABLE}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have PostgreSQL: {reason}")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture(autouse=True)
def release_the_postgres_lock() -> Iterator[None]:
    """Set up before, so torn down after, every fixture of the test: its apps have let go of the database."""
    yield
    while _held_postgres_locks:
        _held_postgres_locks.pop().close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on a fresh SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'site.db'}"
    return postgres_url_or_skip()


# The tools and the site's terminal lines speak the system's language (webapp/terminal.py): the tests read
# their English lines whatever the developer's own locale, and a test about Korean sets LANG itself.
for _locale_variable in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_locale_variable, None)
os.environ["LANG"] = "C.UTF-8"
