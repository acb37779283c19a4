"""Redirects as paths: a `Location` the site sends never names a host.

Starlette builds some redirects as whole URLs from the request's `Host` header:
its router sends `/ping/` to `/ping` that way (`redirect_slashes`). Any client
can send any `Host`, to uvicorn directly or through a proxy that passes it on,
so `GET /ping/` with `Host: evil.example` was sent to `http://evil.example/ping`,
an address a cache in between could keep and give to others. A path is
resolved by the browser against the address it asked, whatever `Host` said.
The site's own redirects are paths already (webapp/links.py); this makes
sure of every other one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SLASHES = "/\\"  # browsers read a backslash in an http(s) address as a slash


def as_path(location: str) -> str:
    """Given a Location, return it as a path on this site: `http://evil.example/ping?x=1` -> `/ping?x=1`.

    A path that starts with two slashes (or a slash and a backslash, which browsers read the same) would
    name a host again, so its leading slashes become one. Other schemes (`mailto:`) are left alone.
    """
    parts = urlsplit(location)
    if parts.scheme not in ("", "http", "https"):
        return location
    path = parts.path
    if parts.scheme or parts.netloc or (len(path) > 1 and path[0] in SLASHES and path[1] in SLASHES):
        path = "/" + path.lstrip(SLASHES)
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return path + query + fragment


class PathRedirectsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_path_locations(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                message["headers"] = [
                    (name, as_path(value.decode("latin-1")).encode("latin-1") if name.lower() == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, send_with_path_locations)
