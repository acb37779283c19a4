"""Folders inside the static folder, opened from it one name at a time and never through a link, and files
read and written in them: the one way tools.prerender touches static/.

Someone who may write in static/ can swap a folder for a symbolic link at any moment, also between a check and
the write that follows it, and a link swapped in mid-run must never lead a write outside static/. So each folder
is opened relative to the one above it (dir_fd) with O_DIRECTORY|O_NOFOLLOW and held open, and a file is made
under a new temporary dot-name and renamed into place inside that open folder (openat, renameat): whatever is
swapped in after the folder was opened is never followed. A file is read the same way, without following a link
and without waiting on a FIFO.

Windows has no dir_fd for os.open (nor opens a folder at all): there (FOLDER_FDS false) each folder is checked by
name just before it is used, and a link put there between that check and the write is not caught.

Nothing here speaks to a person: it raises NotAFolder, NotARegularFile and FileSystemFailure, and the command
says each in a sentence.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = 0o644  # nginx's workers may run as another user: they must be able to read the files
FOLDER_FDS = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd
NO_FOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: bytes as they are, no \n -> \r\n
NON_BLOCKING: int = getattr(os, "O_NONBLOCK", 0)  # a FIFO where a file should be opens at once, and is refused
READ_FLAGS = os.O_RDONLY | NO_FOLLOW | NON_BLOCKING | BINARY
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW | BINARY
NOT_A_FOLDER = (errno.ENOTDIR, errno.ELOOP, errno.EMLINK)  # what opening a link or a file as a folder gives


class NotAFolder(Exception):
    """A name on the way to a file is a symbolic link or a file, not a folder."""

    def __init__(self, path: Path, *, link: bool) -> None:
        super().__init__(str(path))
        self.path = path
        self.link = link


class NotARegularFile(Exception):
    """A name where a file is read is a symbolic link, a folder, a FIFO...: not a regular file."""


class FileSystemFailure(Exception):
    """The file system refused, with `error`, to read or (if `writing`) to write at `path`."""

    def __init__(self, error: OSError, path: Path, *, writing: bool) -> None:
        super().__init__(str(path))
        self.error = error
        self.path = path
        self.writing = writing


@dataclass(frozen=True)
class Folder:
    """A folder inside the static folder, held open: reached from the static folder one name at a time and never
    through a link, so that swapping a name for a link after a check cannot lead a write anywhere else."""

    path: Path  # what a message calls it (and, without FOLDER_FDS, where it is)
    fd: int | None  # None without FOLDER_FDS

    def name(self, name: str) -> str:
        """Given a name inside this folder, return what the os functions take along with dir_fd=self.fd."""
        return name if self.fd is not None else str(self.path / name)


def is_a_link(folder: Folder, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(folder.name(name), dir_fd=folder.fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def open_static(static_real: Path, folders: ExitStack) -> Folder:
    """Given the static folder (its links followed), return it opened; `folders` closes it."""
    if not FOLDER_FDS:
        return Folder(static_real, None)
    try:
        fd = os.open(static_real, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise FileSystemFailure(error, static_real, writing=False) from None
    folders.callback(os.close, fd)
    return Folder(static_real, fd)


def open_child(parent: Folder, name: str, folders: ExitStack, *, create: bool) -> Folder | None:
    """Given an open folder and a name in it, return the folder of that name opened without following a link
    (made first if `create`), or None if there is none; raise NotAFolder if it is a link or a file."""
    path = parent.path / name
    try:
        if create:
            with suppress(FileExistsError):
                os.mkdir(parent.name(name), dir_fd=parent.fd)
        if parent.fd is None:
            return checked_by_name(path)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent.fd)
    except FileNotFoundError as error:
        if create:  # the folder it was made in, or the one just made, was removed meanwhile
            raise FileSystemFailure(error, path, writing=True) from None
        return None
    except OSError as error:
        if error.errno in NOT_A_FOLDER:
            raise NotAFolder(path, link=is_a_link(parent, name)) from None
        raise FileSystemFailure(error, path, writing=create) from None
    folders.callback(os.close, fd)
    return Folder(path, fd)


def checked_by_name(path: Path) -> Folder:
    """Without FOLDER_FDS: given a folder's path, return it if it is a folder that no link leads to (checked now,
    and again only at the next write: a link put there in between is not caught)."""
    info = os.stat(path, follow_symlinks=False)
    if stat.S_ISLNK(info.st_mode) or os.path.realpath(path) != str(path):
        raise NotAFolder(path, link=True)
    if not stat.S_ISDIR(info.st_mode):
        raise NotAFolder(path, link=False)
    return Folder(path, None)


def open_folders(start: Folder, names: Sequence[str], folders: ExitStack, *, create: bool) -> Folder | None:
    """Given an open folder and the names of folders below it, return the last one opened, as open_child does."""
    folder: Folder | None = start
    for name in names:
        if folder is None:
            return None
        folder = open_child(folder, name, folders, create=create)
    return folder


def file_status(folder: Folder, name: str) -> os.stat_result | None:
    """Given a folder and a name in it, return what the name is (a link is not followed), or None if nothing."""
    try:
        return os.stat(folder.name(name), dir_fd=folder.fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise FileSystemFailure(error, folder.path / name, writing=False) from None


def is_present(start: Folder, file: str) -> bool:
    """Given a folder and a file below it (relative, with /), return whether it is a regular file there."""
    *names, name = file.split("/")
    with ExitStack() as folders, suppress(NotAFolder):
        folder = open_folders(start, names, folders, create=False)
        info = None if folder is None else file_status(folder, name)
        return info is not None and stat.S_ISREG(info.st_mode)
    return False


@contextmanager
def opened_regular_file(folder: Folder, name: str) -> Iterator[io.BufferedReader]:
    """Given a folder and a name in it, open that regular file for reading without following a link, and without
    waiting on a FIFO; raise NotARegularFile if it is anything else, FileNotFoundError if it is gone."""
    if folder.fd is None and not stat.S_ISREG(os.stat(folder.name(name), follow_symlinks=False).st_mode):
        raise NotARegularFile(name)
    try:
        fd = os.open(folder.name(name), READ_FLAGS, dir_fd=folder.fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link (EMLINK on FreeBSD)
            raise NotARegularFile(name) from None
        raise
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(name)
        yield file


def put(folder: Folder, name: str, data: bytes, *, mtime_ns: int | None = None) -> int:
    """Write `data` as `name` in the folder so that a reader sees the old file or the new one, never half of one:
    a new temporary dot-file (never served) beside it, then renamed over the name. Return its modification time."""
    temporary = f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(folder.name(temporary), CREATE_FLAGS, FILE_MODE, dir_fd=folder.fd)
    except OSError as error:
        raise FileSystemFailure(error, folder.path, writing=True) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            made = fd if folder.fd is not None else folder.name(temporary)
            os.chmod(made, FILE_MODE)  # whatever the umask took away when it was made
            if mtime_ns is not None:
                os.utime(made, ns=(mtime_ns, mtime_ns))
            modified_ns = os.fstat(fd).st_mtime_ns
        os.replace(folder.name(temporary), folder.name(name), src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
    except OSError as error:
        with suppress(OSError):
            os.unlink(folder.name(temporary), dir_fd=folder.fd)
        where = folder.path if isinstance(error, FileNotFoundError) else folder.path / name
        raise FileSystemFailure(error, where, writing=True) from None
    return modified_ns
