"""REDbot's rules for one response: httplint, the linter REDbot itself runs, given what a client received."""

from __future__ import annotations

from collections.abc import Iterable

from httplint import HttpResponseLinter

from webapp import caching

CACHING = "caching"
# What REDbot warns about: "caches may assign their own freshness lifetimes" and the like.
COMPLAINTS = ("warn", "bad")


# A sample address for every GET route of the site; a route missing here fails the test below.
SAMPLES = {
    "/ping": caching.MADE_FOR_THIS_REQUEST,
    "/": caching.MADE_FOR_THIS_REQUEST,
    "/favicon.ico": caching.ICON_REDIRECT,
    "/dynamic": caching.MADE_FOR_THIS_REQUEST,
    "/dynamic?name=A": caching.MADE_FOR_THIS_REQUEST,
    "/dynamic/shared": caching.SHARED_PAGE,
    "/dynamic/shared?name=A&lang=en": caching.SHARED_PAGE,
    "/compare": caching.MADE_FOR_THIS_REQUEST,
    "/spectrum": caching.MADE_FOR_THIS_REQUEST,
    "/log": caching.MADE_FOR_THIS_REQUEST,
    "/bench": caching.MADE_FOR_THIS_REQUEST,
    "/practice": caching.MADE_FOR_THIS_REQUEST,
    "/practice/events": caching.MADE_FOR_THIS_REQUEST,  # a stream to the owner; a stranger (the test client) is refused
    "/live": caching.MADE_FOR_THIS_REQUEST,
    "/live/events": caching.MADE_FOR_THIS_REQUEST,  # a stream to everyone: only its headers are checked
    "/guestbook": caching.MADE_FOR_THIS_REQUEST,
    "/source/static/index.html": caching.MADE_FOR_THIS_REQUEST,
    "/source/templates/dynamic.html": caching.MADE_FOR_THIS_REQUEST,
    "/api/now": caching.MADE_FOR_THIS_REQUEST,
    "/api/inspect": caching.MADE_FOR_THIS_REQUEST,
    "/api/requests": caching.MADE_FOR_THIS_REQUEST,
    "/api/views": caching.MADE_FOR_THIS_REQUEST,
    "/api/guestbook": caching.MADE_FOR_THIS_REQUEST,
    "/docs": caching.MADE_FOR_THIS_REQUEST,
    "/openapi.json": caching.MADE_FOR_THIS_REQUEST,
    "/static/index.html": "no-cache",
    "/static/style.css": "no-cache",
    # Answers that are not pages: errors, refusals.
    "/nothing-here": caching.MADE_FOR_THIS_REQUEST,
    "/static/nothing-here.css": caching.MADE_FOR_THIS_REQUEST,
    "/api/requests?limit=0": caching.MADE_FOR_THIS_REQUEST,
    "/source/static/nothing-here": caching.MADE_FOR_THIS_REQUEST,
}
# REDbot finds `public` unnecessary where max-age already lets shared caches store a response. The
# fingerprinted files keep it: it is the form every guide (and this project's issue) writes.
ALLOWED = {caching.FINGERPRINTED: {"STORE_PUBLIC_UNNECESSARY"}}


def caching_complaints(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> list[str]:
    """Given a response as received, return REDbot's caching warnings about it (none for a deliberate policy)."""
    linter = HttpResponseLinter()
    linter.process_response_topline(b"HTTP/1.1", str(status).encode(), b"")
    linter.process_headers([(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers])
    linter.feed_content(body)
    linter.finish_content(True)
    return [
        f"{note.__class__.__name__}: {note.summary}"
        for note in linter.notes
        if note.category.name.lower() == CACHING and note.level.name.lower() in COMPLAINTS
    ]


# Responses that do not end while the page that asked is open: their headers are checked, their body is not read.
STREAMS = frozenset({"/practice/events", "/live/events"})
