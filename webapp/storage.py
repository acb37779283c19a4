"""The database as the pages know it, without loading it: what is stored, why it can be unavailable, and
`Storage`, which opens webapp/database.py (SQLAlchemy, SQLModel, the engine, the tables) when it is first needed.

Those imports take about 0.2 s, a third of the site's start-up, and neither /ping nor the static
files need them. After a code edit under --reload, the learner's next /ping waits for every import of
the new process: so the database opens only once the server has answered its first requests
(webapp/lifespan.py asks for it), or earlier if a page needs it first, and that page waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from concurrent.futures import Future
from enum import StrEnum
from typing import TYPE_CHECKING

from webapp.i18n import N_
from webapp.terminal import text as _

if TYPE_CHECKING:  # imported when the database opens, see Storage._open
    from webapp.database import Database, Entry

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 40
MESSAGE_MAX_LENGTH = 500


class Cause(StrEnum):
    """Why the database cannot be used, in terms its owner can act on."""

    PASSWORD = "password"
    NO_USER = "no_user"
    NO_DATABASE = "no_database"
    REFUSED = "refused"
    UNKNOWN_HOST = "unknown_host"
    TIMEOUT = "timeout"
    PERMISSION = "permission"
    SQLITE_FILE = "sqlite_file"
    LOCKED = "locked"
    OTHER = "other"


# The words of PostgreSQL, libpq, psycopg, SQLite and webapp/lanes.py that say each cause; the first match wins.
# tests/unit/test_database_causes.py holds each message as the real server and drivers wrote it.
CAUSE_SIGNS: tuple[tuple[Cause, re.Pattern[str]], ...] = tuple(
    (cause, re.compile(signs, re.IGNORECASE))
    for cause, signs in (
        (Cause.PASSWORD, r"password authentication failed|no password supplied"),
        (Cause.NO_USER, r'role ".*" does not exist'),
        (Cause.NO_DATABASE, r'database ".*" does not exist'),
        (Cause.REFUSED, r"connection refused|on socket .* no such file or directory"),
        (Cause.UNKNOWN_HOST, r"failed to resolve host|could not translate host name|name or service not known"),
        (Cause.TIMEOUT, r"timeout expired|no answer from the database within|due to (statement|lock) timeout"),
        (Cause.PERMISSION, r"permission denied"),
        (Cause.SQLITE_FILE, r"unable to open database file"),
        (Cause.LOCKED, r"database is locked"),
    )
)

# What happened and what the owner should check, one message each: the start-up line says it in the system's
# language (webapp/terminal.py), and templates/_database_notice.html says the same message on the pages
# (PageViews.cause_sentence).
# No names in them: a page tells a visitor the cause, never the server's user, host or database.
CAUSE_SENTENCES: dict[Cause, str] = {
    Cause.PASSWORD: N_(
        "The database did not accept the password (password authentication failed). "
        "Check the user name and password in DATABASE_URL."
    ),
    Cause.NO_USER: N_(
        "The database has no user of that name (role does not exist). "
        "Check the user name in DATABASE_URL, or create that user in PostgreSQL."
    ),
    Cause.NO_DATABASE: N_(
        "The server has no database of that name (database does not exist). "
        "Check the database name at the end of DATABASE_URL, or create that database."
    ),
    Cause.REFUSED: N_(
        "No database server answers at that address (connection refused). "
        "Check that PostgreSQL is running, and the host and port in DATABASE_URL."
    ),
    Cause.UNKNOWN_HOST: N_(
        "The database server's host name was not found (failed to resolve host). "
        "Check the host name in DATABASE_URL: for a server on this computer it is localhost."
    ),
    Cause.TIMEOUT: N_(
        "The database did not answer in time (timeout). "
        "Check that the database server is running, can be reached from here, and is not overloaded."
    ),
    Cause.PERMISSION: N_(
        "The database user may not create or change the site's tables (permission denied). "
        "Make the user in DATABASE_URL the owner of the database."
    ),
    Cause.SQLITE_FILE: N_(
        "The SQLite database file cannot be opened (unable to open database file). "
        "Check that the site may create and write the file named in DATABASE_URL, and its folder."
    ),
    Cause.LOCKED: N_(
        "Another program holds the SQLite database's write lock (database is locked). "
        "Reload in a moment; if it stays, close the other program using the file (an sqlite3 shell, say)."
    ),
    Cause.OTHER: N_(
        "The database reported an error. Check that the database server is running and that DATABASE_URL is right."
    ),
}


def cause_of(message: str) -> Cause:
    """Given a database error's message, return its cause (OTHER when none of the known words is in it)."""
    return next((cause for cause, signs in CAUSE_SIGNS if signs.search(message)), Cause.OTHER)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used right now."""

    @property
    def cause(self) -> Cause:
        return cause_of(str(self))


def not_opened_line(error: DatabaseUnavailable) -> str:
    """Given why the database could not even be opened (DATABASE_URL names no database SQLAlchemy knows, its
    driver is missing), return what the terminal says, in the system's language."""
    return " ".join(
        (_("The database cannot be reached (database unavailable)."), _(CAUSE_SENTENCES[error.cause]), str(error))
    )


class Storage:
    """The site's database, opened once: by webapp/lifespan.py after the first answers, or by the first page
    that needs it. Handlers await its methods, which answer as webapp/database.py's Database does."""

    def __init__(self, url: str, *, max_entries: int | None = None) -> None:
        self.url = url
        self.max_entries = max_entries  # the guestbook keeps this many newest entries; None: all
        self._database: Database | None = None
        self._opened: Future[Database] | None = None  # set once opening has begun
        self._closed = False
        self._lock = threading.Lock()

    async def open(self) -> Database:
        """The database, once its code is imported and its tables were tried (the first call starts that and
        every call until then waits for it); raise DatabaseUnavailable if it could not be opened at all."""
        if (database := self._database) is not None:
            return database
        with self._lock:
            if self._opened is None:
                self._opened = Future()
                # Running: a waiter that is cancelled (a closed connection, say) cannot cancel it for the others.
                self._opened.set_running_or_notify_cancel()
                # A thread of its own, whoever asked first: several event loops (tests, say) may wait for it.
                threading.Thread(target=self._open, args=(self._opened,), name="database-open", daemon=True).start()
            opened = self._opened
        return await asyncio.wrap_future(opened)

    def _open(self, opened: Future[Database]) -> None:
        try:
            # Here and not at the top of the module: see the module's docstring.
            from webapp.database import Database

            database = Database(self.url, max_entries=self.max_entries)
        except Exception as error:  # DATABASE_URL names no database SQLAlchemy knows, or its driver is missing
            unavailable = DatabaseUnavailable(str(error).split("\n")[0])
            logger.error("%s", not_opened_line(unavailable))
            opened.set_exception(unavailable)
            return
        try:
            if not self._closed:
                # The tables are made now, not on a page's first view, and a database that is down says so in
                # the terminal now, before any page does (Database.try_create_tables). A private event loop:
                # this thread is no event loop's.
                asyncio.run(database.try_create_tables())
        finally:
            with self._lock:
                self._database, closed = database, self._closed
            if closed:  # the server stopped while the database opened
                database.dispose()
            opened.set_result(database)

    async def count_view(self, path: str) -> int:
        return await (self._database or await self.open()).count_view(path)

    async def view_totals(self) -> dict[str, int]:
        return await (self._database or await self.open()).view_totals()

    async def add_entry(self, name: str, message: str) -> Entry:
        return await (self._database or await self.open()).add_entry(name, message)

    async def recent_entries(self, limit: int) -> list[Entry]:
        return await (self._database or await self.open()).recent_entries(limit)

    async def entry_count(self) -> int:
        return await (self._database or await self.open()).entry_count()

    def dispose(self) -> None:
        """Close the database if it is open; one still opening closes as soon as it has opened."""
        with self._lock:
            self._closed, database = True, self._database
        if database is not None:
            database.dispose()
