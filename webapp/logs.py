"""What the site's server process writes to its log, and how much of it one client can cause.

- The lesson's access line (`127.0.0.1:51234 - "GET /ping HTTP/1.1" 200`) keeps at most
  LOGGED_PATH_LENGTH characters of the path (a client may send 8 KiB of it on every request).
  Behind the stack the workers serve strangers and their output may go to a file
  (`--worker-logs`): there it keeps no query string either (what a visitor typed, `?name=`).
  uvicorn writes no User-Agent. The stack's health checks (HEALTH_CHECK, once a second per worker,
  from this machine) are not written at all.
- The same error again and again is written once per REPEAT_WINDOW seconds, then counted. A uvicorn
  out of file descriptors (a client holding many sockets open) otherwise writes a traceback for
  every connection it cannot accept: 18 MB in 8 s here, on Python 3.11.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import Scope

from webapp.visitors import is_owner

ACCESS_LOGGER = "uvicorn.access"
ERROR_LOGGERS = ("asyncio", "uvicorn.error")
LOGGED_PATH_LENGTH = 200
PATH_ARGUMENT = 2  # uvicorn's access record: (client, method, path with query, HTTP version, status)
REPEAT_WINDOW = 10.0  # seconds
MAX_KINDS = 1000  # messages remembered at once: the oldest are forgotten first
# What the stack asks each worker, directly, to know it still answers (tools/health.py).
HEALTH_CHECK_PATH = "/ping"
HEALTH_CHECK_QUERY = "health-check"
HEALTH_CHECK = f"{HEALTH_CHECK_PATH}?{HEALTH_CHECK_QUERY}"


def is_health_check(scope: Scope) -> bool:
    """Whether this request is the stack's health check: the owner's (this machine's, asked directly)."""
    return (
        scope["path"] == HEALTH_CHECK_PATH
        and scope.get("query_string") == HEALTH_CHECK_QUERY.encode()
        and is_owner(scope)
    )


class ShortAccessLine(logging.Filter):
    def __init__(self, *, query_string: bool = True) -> None:
        super().__init__()
        self.query_string = query_string

    def filter(self, record: logging.LogRecord) -> bool:
        arguments = record.args
        if isinstance(arguments, tuple) and len(arguments) > PATH_ARGUMENT:
            if arguments[PATH_ARGUMENT] == HEALTH_CHECK and str(arguments[0]).startswith("127.0.0.1:"):
                return False
            path, mark, query = str(arguments[PATH_ARGUMENT]).partition("?")
            shown = path[:LOGGED_PATH_LENGTH] + (mark + query[:LOGGED_PATH_LENGTH] if self.query_string else "")
            record.args = (*arguments[:PATH_ARGUMENT], shown, *arguments[PATH_ARGUMENT + 1 :])
        return True


class OncePerWindow(logging.Filter):
    """Let a message through once per window; say how many like it were left out when the next one passes."""

    def __init__(self, window: float = REPEAT_WINDOW, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, message): (passed at, left out since)

    def filter(self, record: logging.LogRecord) -> bool:
        # By its first line: asyncio's next lines name the very handle or timer, different each time.
        key = (record.name, str(record.msg).partition("\n")[0])
        now = self._clock()
        passed_at, left_out = self._seen.pop(key, (-self.window, 0))
        if now - passed_at < self.window:
            self._seen[key] = (passed_at, left_out + 1)
            return False
        if left_out:
            note = f" ({left_out} more like this in {self.window:g} s were not written)"
            record.msg = f"{record.msg}{note.replace('%', '%%') if record.args else note}"
        self._seen[key] = (now, 0)
        if len(self._seen) > MAX_KINDS:
            del self._seen[next(iter(self._seen))]
        return True


def bound_what_one_client_can_write(*, query_strings: bool) -> None:
    """From now on, this process writes each repeated error at most once per REPEAT_WINDOW seconds,
    and access lines with a short path (and the query string only if `query_strings`)."""
    for name in ERROR_LOGGERS:
        _replace_filter(logging.getLogger(name), OncePerWindow())
    _replace_filter(logging.getLogger(ACCESS_LOGGER), ShortAccessLine(query_string=query_strings))


def _replace_filter(logger: logging.Logger, new: logging.Filter) -> None:
    """One filter of each kind, however many apps this process makes (the tests make many)."""
    for existing in [existing for existing in logger.filters if type(existing) is type(new)]:
        logger.removeFilter(existing)
    logger.addFilter(new)
