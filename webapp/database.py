"""The database behind the dynamic side: page views and the guestbook.

SQLite by default (a file under data/, in WAL mode); DATABASE_URL selects
another database, PostgreSQL included. Handlers await its methods. Each runs on
the database's own threads (webapp/lanes.py) and either answers or raises
DatabaseUnavailable within DEADLINE_SECONDS: a stalled database never stalls a
page that does not use it, and a page that does use it says so in seconds.

Pages reach it through webapp/storage.py's Storage, which imports this module
(and with it SQLAlchemy) only when the database is first needed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, PoolProxiedConnection, delete, event, func, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from webapp.lanes import Call, Lane, LaneTimeout, wait_at_most
from webapp.storage import (
    CAUSE_SENTENCES,
    MESSAGE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Cause,
    DatabaseUnavailable,
    cause_of,
)
from webapp.terminal import text as _

logger = logging.getLogger(__name__)
T = TypeVar("T")

# How long anything here may wait, in seconds. The deadline covers a call's wait
# for a thread too, and every wait inside it is shorter, so a call normally
# fails on its own before the deadline: the deadline is for a server that has
# stopped answering altogether (paused, or its machine gone).
DEADLINE_SECONDS = 2.0
SQLITE_BUSY_TIMEOUT_SECONDS = 1.0  # a write lock another program holds: a backup, an sqlite3 shell
CONNECT_TIMEOUT_SECONDS = 2  # PostgreSQL: the smallest libpq allows
STATEMENT_TIMEOUT_MS = 1500  # PostgreSQL: one statement, row locks included
POOL_WAIT_SECONDS = 1.0  # for a free connection in SQLAlchemy's pool
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
TCP_USER_TIMEOUT_MS = 3000  # unacknowledged data: a server whose machine is gone

READ_THREADS = 4
# SQLite takes one writer at a time: one thread is this process's write queue, and
# its writers never sleep in SQLite's busy handler because of each other.
SQLITE_WRITE_THREADS = 1
POSTGRESQL_WRITE_THREADS = 4
MIN_SQLITE_VERSION = (3, 35, 0)
SQLITE_FILE_REPLACED = "the SQLite file was deleted or replaced while the site was running: restart the server"
CREATE_TABLES_ATTEMPTS = 4
CREATE_TABLES_PAUSE_SECONDS = 0.02
MAX_WAITING_CALLS = 1000  # per lane: beyond this, a call fails at once (each waits DEADLINE_SECONDS at most)


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


# What two processes creating the tables at once can meet: "already exists", a duplicate type, SQLite's lock.
RACE_CAUSES = frozenset({Cause.OTHER, Cause.LOCKED})


def start_up_line(url: str, error: DatabaseUnavailable) -> str:
    """Given DATABASE_URL and why the database failed at start-up, return what the terminal says, in the
    system's language: the cause, what to check, and the URL and the driver's words, never the password."""
    shown_url = make_url(url).render_as_string(hide_password=True)
    return " ".join(
        (
            _("The database cannot be reached (database unavailable)."),
            _(CAUSE_SENTENCES[error.cause]),
            f"[DATABASE_URL={shown_url}]",
            hide_password(_driver_words(str(error)), url),
        )
    )


def hide_password(text: str, url: str) -> str:
    """Given a text and DATABASE_URL, return the text with the URL's password (if any) replaced by ***."""
    password = make_url(url).password
    return text.replace(password, "***") if password else text


def _driver_words(message: str) -> str:
    """The driver's own sentence: without SQLAlchemy's `(psycopg.OperationalError) ` before it."""
    return re.sub(r"^\([\w.]+\) ", "", message)


class Database:
    def __init__(self, url: str, *, max_entries: int | None = None) -> None:
        self.url = url
        self.max_entries = max_entries  # the guestbook keeps this many newest entries; None: all
        self.engine = _create_engine(url)
        self._tables_ready = False
        self._tables_lock = threading.Lock()
        sqlite = self.kind == "sqlite"
        if sqlite and sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise RuntimeError(
                f"The site needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer (for INSERT ... RETURNING); "
                f"this Python has {sqlite3.sqlite_version}. Use a newer Python, or PostgreSQL with DATABASE_URL."
            )
        self._in_memory = sqlite and make_url(url).database in (None, "", ":memory:")
        self._sqlite_file = Path(make_url(url).database or "") if sqlite and not self._in_memory else None
        self._sqlite_file_identity: tuple[int, int] | None = None  # device and inode of the file in use
        self._sqlite_file_replaced = False
        write_threads = SQLITE_WRITE_THREADS if sqlite else POSTGRESQL_WRITE_THREADS
        self._reads = Lane("read", READ_THREADS, deadline_seconds=DEADLINE_SECONDS, max_waiting=MAX_WAITING_CALLS)
        self._writes = Lane("write", write_threads, deadline_seconds=DEADLINE_SECONDS, max_waiting=MAX_WAITING_CALLS)
        self._count_row = "(?, ?)" if sqlite else "(%s, %s)"
        self._views_waiting: list[_WaitingView] = []
        self._views_being_counted = False  # the writer thread is counting, and sees views added meanwhile
        self._views_lock = threading.Lock()
        self._driver_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        self._per_thread = threading.local()
        self._counting_connections: list[PoolProxiedConnection] = []
        self._counting_lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self.engine.dialect.name

    # What handlers await. Each either answers or raises DatabaseUnavailable within DEADLINE_SECONDS.

    async def try_create_tables(self) -> bool:
        try:
            await self._run(self._writes, self._create_tables)
        except DatabaseUnavailable as error:
            logger.warning("%s", start_up_line(self.url, error))
            return False
        return True

    async def count_view(self, path: str) -> int:
        """Add one view of `path` and return its new total, once it is committed.

        Views that arrive while the writer thread is busy wait together and are
        then counted in one statement and one commit (group commit): one trip to
        the thread for all of them. Each still waits for its own commit, so the
        count stays exact and a crash loses no view that a page has shown. A view
        whose page gave up waiting before the write began is not counted; one that
        gave up during the write itself (a server paused mid-statement) may be.
        """
        loop = asyncio.get_running_loop()
        view = _WaitingView(path, Call(), loop, loop.create_future())
        with self._views_lock:
            if len(self._views_waiting) >= MAX_WAITING_CALLS:
                raise DatabaseUnavailable(f"{len(self._views_waiting)} page views are already waiting for the database")
            self._views_waiting.append(view)
            start, self._views_being_counted = not self._views_being_counted, True
        if start and not self._writes.start(self._count_waiting_views):
            raise DatabaseUnavailable("the database is closed")
        try:
            return await wait_at_most(view.total, DEADLINE_SECONDS, view.call)
        except LaneTimeout as error:
            raise DatabaseUnavailable(str(error)) from None

    async def view_totals(self) -> dict[str, int]:
        return await self._run(self._reads, self._view_totals)

    async def add_entry(self, name: str, message: str) -> Entry:
        return await self._run(self._writes, self._add_entry, name, message)

    async def recent_entries(self, limit: int) -> list[Entry]:
        return await self._run(self._reads, self._recent_entries, limit)

    async def entry_count(self) -> int:
        return await self._run(self._reads, self._entry_count)

    def dispose(self) -> None:
        self._reads.close()
        self._writes.close()
        with self._counting_lock:
            kept, self._counting_connections = self._counting_connections, []

        def close_kept() -> None:
            for connection in kept:
                with suppress(Exception):
                    connection.close()

        # On a thread of its own: closing a connection that a stalled call still uses can wait for it.
        threading.Thread(target=close_kept, name="database-close", daemon=True).start()
        self.engine.dispose()

    async def _run(self, lane: Lane, function: Callable[..., T], *args: object) -> T:
        try:
            return await lane.run(function, *args)
        except LaneTimeout as error:
            raise DatabaseUnavailable(str(error)) from None

    # What runs on the lanes' threads.

    def _create_tables(self, _call: Call | None = None) -> None:
        """Create the tables if they are missing; safe to call again and again."""
        if self._tables_ready:
            return
        if self._in_memory:
            raise DatabaseUnavailable(
                "an in-memory SQLite database (sqlite://) lives in one connection and the site uses several threads: "
                "set DATABASE_URL to a file, sqlite:///path/to/site.db"
            )
        with self._tables_lock, self._errors():
            if self.kind == "sqlite":
                _make_sqlite_folder(self.url)
            # Another process may be making them at the same moment (two workers starting on a new
            # database): its CREATE lands between our look and ours, and a later look finds them there.
            # It can happen twice in a row (SQLite made us wait for its lock, then our look was stale).
            for attempt in range(1, CREATE_TABLES_ATTEMPTS + 1):
                try:
                    SQLModel.metadata.create_all(self.engine)
                    break
                except SQLAlchemyError as error:
                    # Only a race looks again; a server that refuses or a file that cannot be opened says no at once.
                    if attempt == CREATE_TABLES_ATTEMPTS or cause_of(str(error)) not in RACE_CAUSES:
                        raise
                    time.sleep(CREATE_TABLES_PAUSE_SECONDS * attempt)
            if self._sqlite_file is not None:
                with suppress(OSError):
                    status = self._sqlite_file.stat()
                    self._sqlite_file_identity = (status.st_dev, status.st_ino)
            self._tables_ready = True

    def _check_sqlite_file(self) -> None:
        """Raise DatabaseUnavailable if the SQLite file was deleted or replaced while the site runs.

        The connections still hold the old file: what they wrote would be lost with it,
        and a new file beside the old one's WAL is how SQLite databases get corrupted.
        One stat (about a microsecond) before each use; a restart opens the new file.
        """
        if self._sqlite_file_identity is None or self._sqlite_file is None:
            return
        try:
            status = self._sqlite_file.stat()
        except OSError:
            status = None
        if status is None or (status.st_dev, status.st_ino) != self._sqlite_file_identity:
            if not self._sqlite_file_replaced:
                self._sqlite_file_replaced = True
                logger.error(
                    "the database file %s was deleted or replaced while the site was running: "
                    "restart the server to use the new one",
                    self._sqlite_file,
                )
            raise DatabaseUnavailable(SQLITE_FILE_REPLACED)

    def _count_waiting_views(self) -> None:
        """On the writer thread: count, in one batch, every view waiting now.

        Views that come meanwhile get another turn, queued behind whatever else waits
        for this thread (a guestbook entry, say), so that steady traffic cannot starve it.
        """
        with self._views_lock:
            waiting, self._views_waiting = self._views_waiting, []
        counted: list[_WaitingView] = []
        outcome: list[int] | DatabaseUnavailable = []
        try:
            counted, outcome = self._count_views(waiting)
        finally:
            with self._views_lock:
                more = self._views_being_counted = bool(self._views_waiting)
            if more and not self._writes.start(self._count_waiting_views):
                with self._views_lock:
                    stranded, self._views_waiting = self._views_waiting, []
                _settle(stranded, DatabaseUnavailable("the database is closed"))
        _settle(counted, outcome)

    def _count_views(self, views: list[_WaitingView]) -> tuple[list[_WaitingView], list[int] | DatabaseUnavailable]:
        """The views counted (those still wanted once the write began) and each one's number, or the error."""
        counted: list[_WaitingView] = []

        def still_wanted() -> list[str]:
            counted[:] = [view for view in views if not view.call.abandoned]
            return [view.path for view in counted]

        try:
            totals = self._add_views(still_wanted)
        except DatabaseUnavailable as error:
            return views, error
        except Exception:  # a bug: the pages say "unavailable" rather than wait for their deadline
            logger.exception("counting page views failed")
            return views, DatabaseUnavailable("counting page views failed")
        return counted, _number_views(counted, totals)

    def _add_views(self, paths: Callable[[], list[str]]) -> dict[str, int]:
        """Add one view for each of `paths()` in one statement and one commit; return each path's new total.

        The busiest write of the site: straight to the driver, on a connection this
        thread keeps, with no ORM session and no pool checkout (a session per view
        cost about 20 times as much). `paths` is asked once the write can begin, after
        any wait for a lock, so that a page that has given up by then is left out.
        """
        self._create_tables()
        self._check_sqlite_file()
        connection = self._counting_connection()
        try:
            if self.kind == "sqlite":
                connection.execute("BEGIN IMMEDIATE")  # where it waits for another program's write lock
            # Sorted: two processes that add the same paths lock their rows in the same order, never a deadlock.
            counts = sorted(Counter(paths()).items())
            if not counts:
                connection.rollback()
                return {}
            rows = ", ".join([self._count_row] * len(counts))
            cursor = connection.cursor()
            cursor.execute(
                COUNT_VIEWS_SQL.format(table=PageView.__tablename__, rows=rows),
                [value for path, views in counts for value in (path, views)],
            )
            totals = {path: int(total) for path, total in cursor.fetchall()}
            cursor.close()
            connection.commit()
        except Exception as error:
            self._drop_counting_connection()  # never left inside a transaction, holding a lock
            if isinstance(error, self._driver_error):
                raise DatabaseUnavailable(_first_line(error)) from error
            raise
        return totals

    def _view_totals(self, _call: Call) -> dict[str, int]:
        with self._session() as session:
            return {view.path: view.count for view in session.exec(select(PageView).order_by(PageView.path))}

    def _add_entry(self, call: Call, name: str, message: str) -> Entry:
        with self._session() as session:
            entry = Entry(name=name, message=message)
            session.add(entry)
            session.flush()  # the INSERT: this is where a lock or a slow server makes it wait
            if self.max_entries is not None and entry.id is not None and entry.id > self.max_entries:
                # Ids only grow: everything at least max_entries older than this one goes, in one indexed step.
                session.exec(delete(Entry).where(col(Entry.id) <= entry.id - self.max_entries))
            if call.abandoned:
                # The visitor was told nothing was stored, after DEADLINE_SECONDS: keep that true.
                session.rollback()
                raise DatabaseUnavailable("gave up waiting before the entry was stored")
            session.commit()
            session.refresh(entry)
            return entry

    def _recent_entries(self, _call: Call, limit: int) -> list[Entry]:
        with self._session() as session:
            newest_first = select(Entry).order_by(col(Entry.id).desc()).limit(limit)
            return list(session.exec(newest_first))

    def _entry_count(self, _call: Call) -> int:
        with self._session() as session:
            return session.exec(select(func.count()).select_from(Entry)).one()

    def _counting_connection(self) -> Any:
        """This thread's own driver connection for counting views; transactions begin where _add_views says."""
        connection: PoolProxiedConnection | None = getattr(self._per_thread, "connection", None)
        if connection is None:
            with self._errors():
                connection = self.engine.raw_connection()
            connection.detach()  # this thread keeps it; the pool neither counts nor resets it
            if self.kind == "sqlite":
                # Transactions begin where _add_views says, not where the driver guesses.
                driver_connection: Any = connection.dbapi_connection
                driver_connection.isolation_level = None
            self._per_thread.connection = connection
            with self._counting_lock:
                self._counting_connections.append(connection)
        return connection.dbapi_connection

    def _drop_counting_connection(self) -> None:
        """Close this thread's counting connection, whatever state it is in; the next view opens another."""
        connection: PoolProxiedConnection | None = getattr(self._per_thread, "connection", None)
        self._per_thread.connection = None
        if connection is not None:
            with self._counting_lock, suppress(ValueError):  # gone already if dispose() closed it
                self._counting_connections.remove(connection)
            with suppress(Exception):
                connection.rollback()
            with suppress(Exception):
                connection.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        self._create_tables()
        self._check_sqlite_file()
        with self._errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (SQLAlchemyError, self._driver_error) as error:
            raise DatabaseUnavailable(_first_line(error)) from error


# One statement for both databases, only the placeholders differ: for each
# path, insert its first views or add them to its count, and return the totals.
COUNT_VIEWS_SQL = (
    "INSERT INTO {table} (path, count) VALUES {rows} "
    "ON CONFLICT (path) DO UPDATE SET count = {table}.count + excluded.count RETURNING path, count"
)


@dataclass
class _WaitingView:
    path: str
    call: Call
    loop: asyncio.AbstractEventLoop
    total: asyncio.Future[int]


def _number_views(views: list[_WaitingView], totals: Mapping[str, int]) -> list[int]:
    """Given the views of one batch, in the order they came, and each path's new total,
    return each view's own number: three views that took /dynamic to 12 are 10, 11 and 12."""
    in_batch = Counter(view.path for view in views)
    seen: Counter[str] = Counter()
    numbers = []
    for view in views:
        seen[view.path] += 1
        numbers.append(totals[view.path] - in_batch[view.path] + seen[view.path])
    return numbers


def _settle(views: list[_WaitingView], outcome: list[int] | DatabaseUnavailable) -> None:
    """From the writer thread: give each waiting page its number, or the error, on its own event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | DatabaseUnavailable]]] = {}
    for index, view in enumerate(views):
        result = outcome if isinstance(outcome, DatabaseUnavailable) else outcome[index]
        by_loop.setdefault(view.loop, []).append((view.total, result))
    for loop, results in by_loop.items():
        with suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_set_results, results)


def _set_results(results: list[tuple[asyncio.Future[int], int | DatabaseUnavailable]]) -> None:
    for future, result in results:
        if future.done():  # given up on at the deadline
            continue
        if isinstance(result, DatabaseUnavailable):
            future.set_exception(result)
        else:
            future.set_result(result)


def _first_line(error: BaseException) -> str:
    return str(error).split("\n")[0]


def _create_engine(url: str) -> Engine:
    pool: dict[str, Any] = {"pool_size": READ_THREADS + POSTGRESQL_WRITE_THREADS, "max_overflow": 0}
    pool["pool_timeout"] = POOL_WAIT_SECONDS
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        in_memory = make_url(url).database in (None, "", ":memory:")  # refused when used, see _create_tables
        engine = create_engine(url, connect_args=connect_args, **({} if in_memory else pool))
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # The site's own server settings join those DATABASE_URL gives (`?options=-c search_path=…`, say):
    # connect_args alone would silently replace the URL's.
    parsed = make_url(url)
    given = parsed.query.get("options", ())
    options = [*([given] if isinstance(given, str) else given), f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"]
    options.append(f"-c lock_timeout={STATEMENT_TIMEOUT_MS}")
    postgresql_args: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "options": " ".join(options),
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        **KEEPALIVE,
    }
    return create_engine(
        parsed.difference_update_query(["options"]), pool_pre_ping=True, connect_args=postgresql_args, **pool
    )


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
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()
