"""An in-memory log of recent requests, like uvicorn's terminal log but readable in the browser.

The middleware is plain ASGI: it wraps `send` to see the status and count the
body bytes. `BaseHTTPMiddleware` would cost a task and a memory stream per request.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_PREFIX = "/static/"


def kind_of(path: str) -> str:
    """Given a request path, return "static" for files from static/, else "dynamic"."""
    return "static" if path.startswith(STATIC_PREFIX) else "dynamic"


@dataclass(frozen=True)
class LoggedRequest:
    time: str
    method: str
    path: str
    query: str
    status: int
    bytes: int
    duration_ms: float
    kind: str
    client: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self.size = size

    def add(self, entry: LoggedRequest) -> None:
        self._entries.append(entry)

    def recent(self, limit: int | None = None) -> list[LoggedRequest]:
        """Return up to `limit` entries, newest first."""
        newest_first = list(reversed(self._entries))
        return newest_first if limit is None else newest_first[:limit]

    def __len__(self) -> int:
        return len(self._entries)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, *, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
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
            client = scope.get("client")
            self.log.add(
                LoggedRequest(
                    time=datetime.now(UTC).isoformat(timespec="milliseconds"),
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status,
                    bytes=sent_bytes,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    kind=kind_of(scope["path"]),
                    client=f"{client[0]}:{client[1]}" if client else "",
                )
            )
