"""Say on every response which process made it: `X-Served-By: uvicorn pid 1234`.

Behind nginx with several workers this is how a learner sees who answered;
nginx marks the static files it sends itself with `X-Served-By: nginx`.
"""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER_NAME = b"x-served-by"


class ServedByMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (HEADER_NAME, f"uvicorn pid {os.getpid()}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)
