"""The stack's run folder: private to the user who runs it, and bounded in size.

It holds what strangers must not read (the secret nginx gives the workers in
nginx.conf, the TLS key, logs that name visitors' addresses), so it is 0700 and
everything in it 0600. Its logs are kept small: a client cannot fill the disk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077  # for the programs the stack starts: what they create is 0600 / 0700 too
ROTATED_SUFFIX = ".1"


def make_private(folder: Path) -> None:
    """Create `folder` if needed and make it, and everything already in it, this user's alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(PRIVATE_FOLDER if path.is_dir() else PRIVATE_FILE)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (0600), replacing it whole: a reader sees the old file or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    temporary.replace(path)


def open_private_log(path: Path) -> int:
    """A descriptor to append to `path`, created 0600."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)


def keep_small(logs: Iterable[Path], max_bytes: int) -> list[Path]:
    """Move each log over `max_bytes` aside as <log>.1 (replacing the one before) and empty it; return those moved.

    Copied, then emptied in place, not renamed: nginx and the workers keep writing
    to the file they opened (in append mode, so they go on at its new, empty end).
    A line written between the copy and the emptying is lost; the bound is what matters.
    """
    moved = []
    for log in logs:
        try:
            if log.stat().st_size <= max_bytes:
                continue
            rotated = log.with_name(log.name + ROTATED_SUFFIX)
            shutil.copyfile(log, rotated)
            rotated.chmod(PRIVATE_FILE)
            os.truncate(log, 0)
        except FileNotFoundError:
            continue
        moved.append(log)
    return moved
