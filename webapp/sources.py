"""Read a file for the source view, but only from inside one allowed folder."""

from __future__ import annotations

import functools
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread

from webapp.static import is_hidden

# The source view is for reading pages, not for downloading big files.
MAX_SOURCE_BYTES = 256 * 1024
MAX_REMEMBERED_FILES = 64


class SourceNotFound(Exception):
    """The path names no regular file inside the allowed folder."""


def resolve_inside(root: Path, relative: str) -> Path:
    """Given a folder and a path typed by a visitor, return the file it names inside the folder.

    Raise SourceNotFound for anything else: absolute paths, backslashes, NUL,
    '..' that climbs out, symlinks that lead out, dot-files (checked where the path leads),
    folders and missing files.
    """
    if not relative or "\\" in relative or "\x00" in relative or relative.startswith("/"):
        raise SourceNotFound(relative)
    root = _resolved(root)
    try:
        candidate = (root / relative).resolve()
        is_file = candidate.is_file()
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        raise SourceNotFound(relative) from None
    if not is_file or os.path.commonpath([root, candidate]) != str(root) or is_hidden(str(candidate.relative_to(root))):
        raise SourceNotFound(relative)
    return candidate


@functools.lru_cache(maxsize=8)
def _resolved(root: Path) -> Path:
    # The allowed folders are fixed for the life of the process; the visitor's path is resolved every time.
    return root.resolve()


@dataclass(frozen=True)
class SourceFile:
    content: bytes  # at most MAX_SOURCE_BYTES
    text: str | None  # None: not UTF-8 text
    sha256: str
    stamp: tuple[int, int, int]  # inode, size, modification time: a change to any is a new file


def _read(path: Path, stamp: tuple[int, int, int]) -> SourceFile:
    with path.open("rb") as file:
        content = file.read(MAX_SOURCE_BYTES)
    try:
        text: str | None = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return SourceFile(content, text, hashlib.sha256(content).hexdigest(), stamp)


class SourceFiles:
    """The files the source view shows, kept in memory and read again when they change on disk.

    A view checks the file with one stat on the event loop, as Jinja does for each
    template; only a file that is new or changed costs a trip to a thread to read it.
    """

    def __init__(self, capacity: int = MAX_REMEMBERED_FILES) -> None:
        self._capacity = capacity
        self._files: OrderedDict[Path, SourceFile] = OrderedDict()

    async def read(self, root: Path, relative: str) -> SourceFile:
        """Given a folder and a visitor's path, return the file it names; raise SourceNotFound."""
        path = resolve_inside(root, relative)
        try:
            status = path.stat()
        except OSError:  # removed this very moment
            raise SourceNotFound(relative) from None
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        known = self._files.get(path)
        if known is not None and known.stamp == stamp:
            self._files.move_to_end(path)
            return known
        try:
            source = await to_thread.run_sync(_read, path, stamp)
        except OSError:
            raise SourceNotFound(relative) from None
        self._files[path] = source
        if len(self._files) > self._capacity:
            self._files.popitem(last=False)
        return source
