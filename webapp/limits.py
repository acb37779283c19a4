"""Bounds on what one request may send: 414, 431 and 413 before the app reads it, 408 while it does.

uvicorn bounds little of a request itself. Its h11 parser stops at 16 KiB of
request head only while the head is incomplete: a 100 KB request line that
arrives in one read is parsed and served. httptools (`uvicorn[standard]`)
reads headers of any size first. Neither has a time limit for a body: one
that trickles in a byte every few seconds keeps its connection for as long as
the client likes. These limits make each bound explicit, in every server:

- the request line (`GET /ping?x=1 HTTP/1.1`) at most 8 KiB, as nginx's
  `large_client_header_buffers 4 8k` allows: 414;
- the headers at most `max_header_bytes` in all: 431;
- the body at most `max_body_bytes`: 413 (before it is read when its
  Content-Length says so, else as it arrives);
- the whole body within `body_seconds` of the request's head: 408.

A request whose body was not read to its end (refused, or answered without
it) gets `Connection: close` on its answer: otherwise uvicorn would go on
reading the rest, to throw it away, for as long as it kept trickling in.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.errors import translator
from webapp.i18n import N_

# nginx's large_client_header_buffers 4 8k: a request line must fit in one 8 KiB buffer.
MAX_REQUEST_LINE_BYTES = 8 * 1024
# A guestbook entry is at most 16 KiB: even a slow phone sends that in well under a second.
BODY_SECONDS = 10

TOO_LARGE = N_("The request body is too large: at most %(max)s bytes.")
HEADERS_TOO_LARGE = N_("The request headers are too large: at most %(max)s bytes in all.")
LINE_TOO_LONG = N_(
    "The address is too long: the request line (method, address and HTTP version) can be at most %(max)s bytes."
)
TOO_SLOW = N_(
    "The request body arrived too slowly: all of it must arrive within %(seconds)s s. The connection is closed."
)

Gettext = Callable[[str], str]


def in_english(scope: Scope) -> Gettext:
    """The sentences as written (for an app that has no catalogues)."""
    return str


def in_the_site_language(scope: Scope) -> Gettext:
    """Given a request to the site, return the gettext of the language its pages would choose."""
    return translator(Request(scope))


class BodyRefused(HTTPException):
    """Raised from `receive` while the app reads the body; the app's error handler answers with it
    (FastAPI turns any other exception raised there into a 400 that says nothing of why)."""


def request_line_bytes(scope: Scope) -> int:
    """Given a request, return the length of its request line as sent: `GET /ping?x=1 HTTP/1.1` and CRLF."""
    target = len(scope.get("raw_path") or scope["path"].encode())
    if query := scope.get("query_string", b""):
        target += 1 + len(query)
    return len(scope["method"]) + 1 + target + len(" HTTP/") + len(scope.get("http_version", "1.1")) + 2


def header_bytes(scope: Scope) -> int:
    return sum(len(name) + len(value) for name, value in scope["headers"])


def declared_length(scope: Scope) -> int:
    """Given a request, return the body length its Content-Length gives (0 without one)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.strip().isdigit():
            return int(value)
    return 0


def declares_body(scope: Scope) -> bool:
    """Whether a request says a body follows: a Content-Length above 0, or chunks."""
    return declared_length(scope) > 0 or any(name == b"transfer-encoding" for name, _ in scope["headers"])


class BoundedBody:
    """One request's body as the app reads it: counted, timed, and known to be read to its end or not."""

    def __init__(self, receive: Receive, limits: RequestLimitsMiddleware, scope: Scope) -> None:
        self._receive = receive
        self._limits = limits
        self._scope = scope
        # From the moment the head has arrived: an ASGI app never sees the request's first byte.
        self._deadline = anyio.current_time() + limits.body_seconds
        self.received = 0
        self.complete = not declares_body(scope)

    async def receive(self) -> Message:
        if self.complete:  # after the body only http.disconnect comes, waited for as long as the app likes
            return await self._receive()
        with anyio.CancelScope(deadline=self._deadline) as waiting:
            message = await self._receive()
        if waiting.cancelled_caught:
            raise self._refused(408)
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self._limits.max_body_bytes:
                raise self._refused(413)
            self.complete = not message.get("more_body", False)
        return message

    def _refused(self, status: int) -> BodyRefused:
        return BodyRefused(status, self._limits.sentence(self._scope, status))


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
        max_request_line_bytes: int = MAX_REQUEST_LINE_BYTES,
        body_seconds: float = BODY_SECONDS,
        gettext_for: Callable[[Scope], Gettext] = in_english,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.max_request_line_bytes = max_request_line_bytes
        self.body_seconds = body_seconds
        self.gettext_for = gettext_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        if not declares_body(scope):  # most requests (GET): nothing to count, time or close
            if status := self.refusal_before_reading(scope):
                await _answer(send, status, self.sentence(scope, status))
                return
            await self.app(scope, receive, send)
            return

        body = BoundedBody(receive, self, scope)
        started = False

        async def send_closing_if_unread(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body.complete:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        if status := self.refusal_before_reading(scope):
            await _answer(send_closing_if_unread, status, self.sentence(scope, status))
            return
        try:
            await self.app(scope, body.receive, send_closing_if_unread)
        except BodyRefused as refused:  # an app with no error handler for it: answered here
            if not started:
                await _answer(send_closing_if_unread, refused.status_code, refused.detail)

    def refusal_before_reading(self, scope: Scope) -> int | None:
        """Given a request's head, return the status that refuses it before anything is read, if any."""
        if request_line_bytes(scope) > self.max_request_line_bytes:
            return 414
        if header_bytes(scope) > self.max_header_bytes:
            return 431
        if declared_length(scope) > self.max_body_bytes:
            return 413
        return None

    def sentence(self, scope: Scope, status: int) -> str:
        """Given a refusal's status, return what it says, in the language the request's pages would choose."""
        message, values = {
            413: (TOO_LARGE, {"max": self.max_body_bytes}),
            431: (HEADERS_TOO_LARGE, {"max": self.max_header_bytes}),
            414: (LINE_TOO_LONG, {"max": self.max_request_line_bytes}),
            408: (TOO_SLOW, {"seconds": self.body_seconds}),
        }[status]
        return self.gettext_for(scope)(message) % values


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
