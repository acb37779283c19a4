"""Headers every response carries: who made it, and what the browser may do with it.

- `X-Served-By: uvicorn pid 1234` says which process answered (behind nginx,
  static files say `nginx` instead, and a copy from nginx's micro-cache
  `nginx (cache)`), so a learner sees who did the work.
- `Cache-Control: no-store` on every response that states no policy of its own
  (see caching.py): made for this request, kept by no cache.
- Security headers: no MIME sniffing, no framing by other sites, referrers kept
  to this site, and a Content Security Policy that runs only this site's own
  scripts and styles. A response that sets its own policy keeps it.
"""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.caching import MADE_FOR_THIS_REQUEST

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


INTERNAL_ERROR_BODY = b"Internal Server Error"
INTERNAL_ERROR_START: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(INTERNAL_ERROR_BODY)).encode()),
    ],
}


class SiteHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        headers = {
            "X-Served-By": f"uvicorn pid {os.getpid()}",
            "Cache-Control": MADE_FOR_THIS_REQUEST,
            **SECURITY_HEADERS,
        }
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in self.headers if header[0] not in present]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            # A bug, most often in the learner's own code: Starlette's outermost middleware would answer a
            # bare 500 without these headers (no Cache-Control, no CSP). Answer it here, with them:
            # servererrors.py says what happened to whom, and writes the traceback to the log itself.
            if started:  # a response under way (a stream) cannot be replaced: uvicorn ends it and logs it
                raise
            try:
                # Imported on a bug only: tools import this module for its headers, without the site.
                from webapp.servererrors import server_error_response

                response = await server_error_response(scope, error)
            except Exception:  # saying it failed too: the bare 500, and both errors to the log
                await send_with_headers(INTERNAL_ERROR_START)
                await send({"type": "http.response.body", "body": INTERNAL_ERROR_BODY})
                raise
            await response(scope, receive, send_with_headers)
