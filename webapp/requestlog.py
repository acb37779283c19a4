"""An in-memory log of recent requests, like uvicorn's terminal log but readable in the browser.

The middleware is plain ASGI: it wraps `send` to see the status and count the
body bytes. `BaseHTTPMiddleware` would cost a task and a memory stream per request.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import NamedTuple

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.logs import LOGGED_PATH_LENGTH, is_health_check
from webapp.visitors import format_address, same_visitor, visitor_of

STATIC_PREFIX = "/static/"
# What one entry keeps of the path and the query: enough to read, never a page of someone's padding.
MAX_LOGGED_QUERY = 200
CUT_MARK = "…"


def kind_of(path: str) -> str:
    """Given a request path, return "static" for files from static/, else "dynamic"."""
    return "static" if path.startswith(STATIC_PREFIX) else "dynamic"


class LoggedRequest(NamedTuple):
    # Raw values, cheap to record on every request; formatted only when shown.
    started_at: float  # seconds since the epoch
    method: str
    path: str
    query_string: bytes
    status: int
    bytes: int
    duration: float  # seconds
    client: tuple[str, int] | None
    visitor: str = ""  # who asked, as webapp.visitors tells visitors apart ("" if it cannot)
    hidden: bool = False  # another visitor's request, shown without what identifies them

    @property
    def time(self) -> str:
        return datetime.fromtimestamp(self.started_at, UTC).isoformat(timespec="milliseconds")

    @property
    def query(self) -> str:
        return self.query_string.decode("latin-1")

    @property
    def duration_ms(self) -> float:
        return round(self.duration * 1000, 3)

    @property
    def kind(self) -> str:
        return kind_of(self.path)

    @property
    def client_address(self) -> str:
        return format_address(*self.client) if self.client else ""

    def without_visitor(self) -> LoggedRequest:
        """This request as another visitor may see it: no address, no query string, and no size
        (the size of /dynamic tells the length of the name and User-Agent it shows)."""
        return self._replace(query_string=b"", client=None, visitor="", bytes=0, hidden=True)


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self.size = size
        self.added = 0  # entries added since the process started, kept or not
        self.first_at: float | None = None  # when the first request came: since then this process answers

    def add(self, entry: LoggedRequest) -> None:
        self._entries.append(entry)
        self.added += 1

    def newer_than(self, added: int) -> list[LoggedRequest]:
        """The entries added after the first `added` ones (those still kept), oldest first."""
        count = min(self.added - added, len(self._entries))
        return list(self._entries)[len(self._entries) - count :] if count > 0 else []

    def recent(self, limit: int | None = None) -> list[LoggedRequest]:
        """Return up to `limit` entries, newest first."""
        newest_first = list(reversed(self._entries))
        return newest_first if limit is None else newest_first[:limit]

    def seen_by(self, viewer: str, limit: int | None = None, *, show_all: bool = False) -> list[LoggedRequest]:
        """Up to `limit` entries, newest first, as `viewer` (an address) may see them:
        their own in full, other visitors' without address and query, unless `show_all`."""
        entries = self.recent(limit)
        if show_all:
            return entries
        return [entry if same_visitor(viewer, entry.visitor) else entry.without_visitor() for entry in entries]

    def __len__(self) -> int:
        return len(self._entries)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, *, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_health_check(scope):  # once a second per worker: it would fill the log
            await self.app(scope, receive, send)
            return

        started_at = time.time()
        started = time.perf_counter()
        if self.log.first_at is None:
            self.log.first_at = started_at
        status = 500  # what the client gets if the app fails before answering
        sent_bytes = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.log.add(
                LoggedRequest(
                    started_at,
                    scope["method"],
                    _cut(scope["path"], LOGGED_PATH_LENGTH),
                    _cut_bytes(scope.get("query_string", b""), MAX_LOGGED_QUERY),
                    status,
                    sent_bytes,
                    time.perf_counter() - started,
                    scope.get("client"),
                    visitor_of(scope),
                )
            )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + CUT_MARK


def _cut_bytes(data: bytes, limit: int) -> bytes:
    return data if len(data) <= limit else data[:limit] + b"..."  # shown decoded as Latin-1
