"""The site's middleware, in the order it wraps the app."""

from __future__ import annotations

from starlette.middleware import Middleware

from webapp.head import HeadAsGetMiddleware
from webapp.headers import SiteHeadersMiddleware
from webapp.limits import RequestLimitsMiddleware, in_the_site_language
from webapp.redirects import PathRedirectsMiddleware
from webapp.requestlog import RequestLog, RequestLogMiddleware
from webapp.settings import Settings
from webapp.visitors import VisitorMiddleware


def site_middleware(settings: Settings, log: RequestLog) -> list[Middleware]:
    """The site's middleware, outermost first: who asked is decided before anything reads it;
    the log sees every answer, a 413 included."""
    return [
        Middleware(VisitorMiddleware, proxy_secret=settings.proxy_secret),
        Middleware(RequestLogMiddleware, log=log),
        Middleware(SiteHeadersMiddleware),
        Middleware(
            RequestLimitsMiddleware,
            max_body_bytes=settings.max_body_bytes,
            max_header_bytes=settings.max_header_bytes,
            gettext_for=in_the_site_language,
        ),
        Middleware(PathRedirectsMiddleware),
        Middleware(HeadAsGetMiddleware),
    ]
