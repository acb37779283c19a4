"""REDbot's rules for one response: httplint, the linter REDbot itself runs, given what a client received."""

from __future__ import annotations

from collections.abc import Iterable

from httplint import HttpResponseLinter

CACHING = "caching"
# What REDbot warns about: "caches may assign their own freshness lifetimes" and the like.
COMPLAINTS = ("warn", "bad")


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
