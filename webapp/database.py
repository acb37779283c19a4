"""The database behind the dynamic side: page views and the guestbook.

SQLite by default (a file under data/, in WAL mode); DATABASE_URL selects
another database, PostgreSQL included. Every failure to reach the database
becomes DatabaseUnavailable, so pages can say so instead of answering 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 40
MESSAGE_MAX_LENGTH = 500
SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SECONDS = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


class PageView(SQLModel, table=True):
    path: str = Field(primary_key=True, max_length=200)
    count: int = 0


class Entry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    message: str = Field(max_length=MESSAGE_MAX_LENGTH)
    created_at: datetime = Field(default_factory=utc_now)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used right now."""


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._tables_ready = False
        self._tables_lock = threading.Lock()
        # SQLite takes one writer at a time, and a writer that finds the file
        # locked sleeps in growing steps before it tries again: under load that
        # makes seconds-long tails. Queueing this process's writers here instead
        # leaves SQLite's wait for the rare writer from another process.
        self._write_lock: AbstractContextManager[object] = threading.Lock() if self.kind == "sqlite" else nullcontext()

    @property
    def kind(self) -> str:
        return self.engine.dialect.name

    def create_tables(self) -> None:
        """Create the tables if they are missing; safe to call again and again."""
        if self._tables_ready:
            return
        with self._tables_lock, self._errors():
            if self.kind == "sqlite":
                _make_sqlite_folder(self.url)
            SQLModel.metadata.create_all(self.engine)
            self._tables_ready = True

    def try_create_tables(self) -> bool:
        try:
            self.create_tables()
        except DatabaseUnavailable as error:
            logger.warning("database unavailable at start-up, pages will say so: %s", error)
            return False
        return True

    def count_view(self, path: str) -> int:
        """Add one view of `path` and return its new total, in one atomic statement."""
        insert = postgresql_insert if self.kind == "postgresql" else sqlite_insert
        statement = (
            insert(PageView)
            .values(path=path, count=1)
            .on_conflict_do_update(index_elements=["path"], set_={"count": PageView.count + 1})
            .returning(col(PageView.count))
        )
        with self._write_lock, self._session() as session:
            total: int = session.execute(statement).scalar_one()
            session.commit()
            return total

    def view_totals(self) -> dict[str, int]:
        with self._session() as session:
            return {view.path: view.count for view in session.exec(select(PageView).order_by(PageView.path))}

    def add_entry(self, name: str, message: str) -> Entry:
        with self._write_lock, self._session() as session:
            entry = Entry(name=name, message=message)
            session.add(entry)
            session.commit()
            session.refresh(entry)
            return entry

    def recent_entries(self, limit: int) -> list[Entry]:
        with self._session() as session:
            newest_first = select(Entry).order_by(col(Entry.id).desc()).limit(limit)
            return list(session.exec(newest_first))

    def entry_count(self) -> int:
        with self._session() as session:
            return session.exec(select(func.count()).select_from(Entry)).one()

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        self.create_tables()
        with self._errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            raise DatabaseUnavailable(str(error).split("\n")[0]) from error


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _make_sqlite_folder(url: str) -> None:
    # The data folder is made when the database is first used, not when the app
    # is built; if it cannot be, connecting fails and pages say so.
    database_path = url.split(":///", 1)[1] if ":///" in url else ""
    if database_path and database_path != ":memory:":
        with suppress(OSError):
            Path(database_path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    # WAL: readers never wait for the writer, and a killed process loses no committed row.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
