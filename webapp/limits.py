"""Refuse oversized requests before the app reads them: 431 for headers, 413 for bodies.

A body is only limited by what the app reads, and the headers by what the
server's parser allows: uvicorn's h11 stops at a 16 KiB request head (400), but
httptools (`uvicorn[standard]`, `--http httptools`) reads headers of any size
first. These limits make both explicit, in every server.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def too_large_detail(max_bytes: int) -> str:
    return f"The request body is too large: at most {max_bytes} bytes."


def headers_too_large_detail(max_bytes: int) -> str:
    return f"The request headers are too large: at most {max_bytes} bytes in all."


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads the body; the app's error handler answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(max_bytes))


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = scope["headers"]
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            await _answer(send, 431, headers_too_large_detail(self.max_header_bytes))
            return
        if scope["method"] in METHODS_WITHOUT_BODY:
            await self.app(scope, receive, send)
            return
        for name, value in headers:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await _answer(send, 413, too_large_detail(self.max_body_bytes))
                return

        # Without a Content-Length (chunked), count the bytes as they arrive.
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _answer(send, 413, too_large_detail(self.max_body_bytes))


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
