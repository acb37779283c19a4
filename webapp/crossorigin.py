"""Is a form post from a page on another site? (Cross-site request forgery.)

A page anywhere on the web can hold a form that posts to this site, and the
browser sends it. Browsers say where a request comes from: Sec-Fetch-Site
(every current browser) or Origin. A post that says "another site" is refused.
One that says nothing (curl, a script, a very old browser) is not a page in a
browser, so no other site can have made it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers

SAME_SITE_VALUES = frozenset({"same-origin", "none"})  # "none": typed or bookmarked by the visitor


def cross_site_origin(headers: Headers) -> str | None:
    """Given a request's headers, return where it came from if that is another site, else None."""
    fetch_site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    if fetch_site is not None:
        return None if fetch_site in SAME_SITE_VALUES else (origin or fetch_site)
    if origin is None:
        return None
    if origin == "null":  # a sandboxed frame, a data: URL, a file on disk
        return origin
    try:
        origin_host = urlsplit(origin).netloc
    except ValueError:  # not a URL at all ("http://[::1", say): no page of this site sent it
        return origin
    return None if origin_host.lower() == headers.get("host", "").lower() else origin
