"""HEAD for every GET route: the same status and headers, no body.

Starlette's own routes answer HEAD, FastAPI's do not (405); link checkers,
monitors and `curl -I` all send HEAD. The app answers it as GET and the body is
dropped here, so Content-Length and ETag stay those of the GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEAD_KEY = "webapp.head"  # set on a HEAD answered as GET: a stream answers it with its headers alone


def is_head(scope: Scope) -> bool:
    return bool(scope.get(HEAD_KEY))


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # StaticFiles answers HEAD itself, without reading the file.
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_KEY: True}, receive, send_without_body)
