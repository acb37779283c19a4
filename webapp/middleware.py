"""The site's middleware, in the order it wraps the app."""

from __future__ import annotations

from starlette.middleware import Middleware

from webapp.head import HeadAsGetMiddleware
from webapp.headers import SiteHeadersMiddleware
from webapp.limits import RequestLimitsMiddleware
from webapp.requestlog import RequestLog, RequestLogMiddleware
from webapp.settings import Settings


def site_middleware(settings: Settings, log: RequestLog) -> list[Middleware]:
    """The site's middleware, outermost first: the log sees every answer, a 413 included."""
    return [
        Middleware(RequestLogMiddleware, log=log),
        Middleware(SiteHeadersMiddleware),
        Middleware(
            RequestLimitsMiddleware, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes
        ),
        Middleware(HeadAsGetMiddleware),
    ]
