"""Fingerprinted names for static files: `stamp.svg` is linked as `stamp.1a2b3c4d5e.svg`.

The ten hex digits are the start of the SHA-256 of the file's content, so the
name changes exactly when the content does. A file at such an address never
changes, and browsers may keep it for a year without asking again; an edited
file gets a new name on the next render of the page that links it, and is
fetched at once. Nothing is copied: both servers send `stamp.svg` for any
fingerprinted name of it (nginx by a regex location, the app in static.py),
the way HTML5 Boilerplate's "filename-based cache busting" does.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DIGITS = 10
SUFFIXES = ("css", "js", "svg", "png", "woff2")
# `\Z`, the very end: `$` would also match before a final newline, so `stamp.1a2b3c4d5e.svg%0A` was stamp.svg.
# nginx's location (tools/nginx_conf/site.conf.j2) is the same pattern, with PCRE's `\z`.
FINGERPRINTED_NAME = re.compile(rf"^(?P<stem>.+)\.[0-9a-f]{{{DIGITS}}}\.(?P<suffix>{'|'.join(SUFFIXES)})\Z")


def original_name(path: str) -> str | None:
    """Given a path under static/, return the file it names if fingerprinted (`a/b.1a2b3c4d5e.css` → `a/b.css`).

    Such a name always means the file without the fingerprint, on both servers: a file whose own name
    looks fingerprinted (`vite.0123456789.js`) is not sent under that name.
    """
    match = FINGERPRINTED_NAME.match(path)
    return f"{match['stem']}.{match['suffix']}" if match else None


class Fingerprints:
    """The fingerprinted name of each static file, worked out again when the file changes."""

    def __init__(self, static_dir: Path) -> None:
        self._static_dir = static_dir
        # path: (mtime_ns, size, fingerprinted name). Threads may race to fill in the same entry: both compute
        # the same name, and one dict assignment replaces the other whole.
        self._known: dict[str, tuple[int, int, str]] = {}

    def name_for(self, path: str) -> str:
        """Given a file's path under static/ (`stamp.svg`), return its fingerprinted path (`stamp.1a2b3c4d5e.svg`)."""
        stem, dot, suffix = path.rpartition(".")
        if not dot or suffix not in SUFFIXES:
            raise ValueError(f"{path} cannot be fingerprinted: only .{', .'.join(SUFFIXES)} files are")
        file = self._static_dir / path
        stat = file.stat()
        known = self._known.get(path)
        if known and known[:2] == (stat.st_mtime_ns, stat.st_size):
            return known[2]
        digest = hashlib.sha256(file.read_bytes()).hexdigest()[:DIGITS]
        name = f"{stem}.{digest}.{suffix}"
        self._known[path] = (stat.st_mtime_ns, stat.st_size, name)
        return name
