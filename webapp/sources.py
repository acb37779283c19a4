"""Read a file for the source view, but only from inside one allowed folder."""

from __future__ import annotations

import os
from pathlib import Path

import aiofiles

# The source view is for reading pages, not for downloading big files.
MAX_SOURCE_BYTES = 256 * 1024


class SourceNotFound(Exception):
    """The path names no regular file inside the allowed folder."""


def resolve_inside(root: Path, relative: str) -> Path:
    """Given a folder and a path typed by a visitor, return the file it names inside the folder.

    Raise SourceNotFound for anything else: absolute paths, backslashes, NUL,
    '..' that climbs out, symlinks that lead out, folders and missing files.
    """
    if not relative or "\\" in relative or "\x00" in relative or relative.startswith("/"):
        raise SourceNotFound(relative)
    root = root.resolve()
    try:
        candidate = (root / relative).resolve()
        is_file = candidate.is_file()
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        raise SourceNotFound(relative) from None
    if not is_file or os.path.commonpath([root, candidate]) != str(root):
        raise SourceNotFound(relative)
    return candidate


async def read_source(root: Path, relative: str) -> bytes:
    path = resolve_inside(root, relative)
    async with aiofiles.open(path, "rb") as file:
        return await file.read(MAX_SOURCE_BYTES)
