"""StaticFiles that answer as the stack's nginx does, with a deliberate caching policy.

Starlette sends ETag and Last-Modified but no Cache-Control, so a browser
guesses how long to keep a file and a learner may see stale CSS after an edit.
The ETag is the file's mtime in nanoseconds and its size, so every save gives a
new one (saves closer than one tick of the system's file clock, a few
milliseconds, excepted) and the next reload shows the edit. nginx's ETag counts whole seconds
(`"hex mtime seconds-hex size"`): two saves of the same size within one second
kept it, and a revalidating browser kept the old file. Matching nginx's format
bought nothing: uvicorn on :8000 and the stack's nginx on :8080 are different
origins, so a browser keeps a separate cache for each and never sends one
server's ETag to the other.

Every path gets the answer nginx gives it (`disable_symlinks on`, its index
and error pages, its conditional requests, If-Modified-Since in whole seconds),
so the direct uvicorn and the stack never disagree about what a path is:

- not there, or asked for through a file or a link (`style.css/`, `link/a.css`): 404;
- a link itself, or a file or folder the server may not read: 403;
- any other error opening it (a disk fault, EIO): 500, and a line in the log;
- a folder: its index.html with the slash, 301 to the slash without it, 403 if it has none.

The file is opened before the answer starts, so a file that cannot be read is
refused with its status, never sent as a 200 that then breaks off. Refusals
are the site's error pages (the ones nginx sends) and no cache keeps them.
"""

from __future__ import annotations

import errno
import logging
import mimetypes
import os
import stat
from collections.abc import Callable
from email.utils import mktime_tz, parsedate_tz
from http import HTTPStatus

import anyio
import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Message, Receive, Scope, Send

from webapp.caching import FINGERPRINTED, MADE_FOR_THIS_REQUEST
from webapp.fingerprints import original_name
from webapp.logs import LOGGED_PATH_LENGTH

# Some systems map these through the registry or an old mime.types; the browser
# then refuses to run the script or apply the stylesheet.
for _type, _extension in (
    ("text/javascript", ".js"),
    ("text/css", ".css"),
    ("image/svg+xml", ".svg"),
):
    mimetypes.add_type(_type, _extension)

logger = logging.getLogger(__name__)

# How nginx's static handler answers each error from open(): the rest is a 500 it logs as critical.
NOT_FOUND_ERRORS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
REFUSED_ERRORS = frozenset({errno.EACCES, errno.ELOOP, errno.EMLINK})
# The site's error pages, and the one each refusal shows: nginx's error_page lines. A 403 shows
# the 404 page, so a refusal does not tell a visitor whether the file is there.
ERROR_PAGES_FOLDER = "errors"
ERROR_PAGES = {403: "404.html", 404: "404.html", 405: "400.html", 500: "500.html"}
ALLOWED_METHODS = "GET, HEAD"
# Opened only to check that the file can be read: never a link (a link swapped in after the check is
# refused too), and a named pipe does not make the server wait for a writer.
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

# Given the static folder and a path's parts, return the full path and status of what is to be sent.
Opener = Callable[[str, list[str]], tuple[str, os.stat_result]]


class Refused(Exception):
    """A path the server will not send, with the status nginx gives it."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


class CachedStaticFiles(StaticFiles):
    def __init__(self, *, directory: str | os.PathLike[str], cache_control: str) -> None:
        super().__init__(directory=directory, follow_symlink=False)
        self.cache_control = cache_control
        # The folder itself may be a link (a deploy's `current -> releases/42`); nothing inside it may.
        self._root = os.path.realpath(directory)

    async def get_response(self, path: str, scope: Scope) -> Response:
        # A POST is looked up first, as nginx does: 405 for a file, 404 for nothing there.
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return await self._error_page(405)
        try:
            return await self._answer(path, scope)
        except Refused as refusal:
            return await self._error_page(refusal.status_code)

    async def _answer(self, path: str, scope: Scope) -> Response:
        parts = path_parts(path)
        if scope.get("path", "").endswith("/"):
            full_path, stat_result = await self._open(open_index, parts)
            return self._file(full_path, stat_result, scope, cache_control=self._policy(parts))
        # `stamp.1a2b3c4d5e.svg` is `stamp.svg` under a name that changes with its content: sent whole,
        # kept a year. Such a name always means that; a file named so itself is not sent under it.
        original = original_name(path)
        if original is not None:
            parts = path_parts(original)
        full_path, stat_result = await self._open(open_file, parts)
        if stat.S_ISDIR(stat_result.st_mode):
            return folder_redirect(scope)
        if not stat.S_ISREG(stat_result.st_mode):
            raise Refused(404)  # a named pipe, a device: not a file to send
        if original is not None:
            return self._file(full_path, stat_result, scope, cache_control=FINGERPRINTED, whole=True)
        return self._file(full_path, stat_result, scope, cache_control=self._policy(parts))

    async def _open(self, opener: Opener, parts: list[str]) -> tuple[str, os.stat_result]:
        """Given how to open and a path's parts, return what it opened, or raise Refused with nginx's status."""
        try:
            return await anyio.to_thread.run_sync(opener, self._root, parts)
        except ValueError:  # a NUL byte: no file has that name
            raise Refused(404) from None
        except OSError as error:
            status_code = refusal_status(error)
            if status_code == 500:
                logged = os.sep.join(parts)[:LOGGED_PATH_LENGTH]
                logger.error("static/%s could not be opened: %s", logged, error.strerror or error)
            raise Refused(status_code) from None

    def _policy(self, parts: list[str]) -> str:
        """Given a file's path, return its Cache-Control: the error pages each answer one failed request."""
        return MADE_FOR_THIS_REQUEST if parts[:1] == [ERROR_PAGES_FOLDER] else self.cache_control

    def _file(
        self, full_path: str, stat_result: os.stat_result, scope: Scope, *, cache_control: str, whole: bool = False
    ) -> Response:
        if scope["method"] == "POST":
            raise Refused(405)
        etag = file_etag(stat_result)
        condition = conditional_status(Headers(scope=scope), etag, int(stat_result.st_mtime))
        if condition == 412:
            return Response(status_code=412, headers={"cache-control": MADE_FOR_THIS_REQUEST})
        headers = {"etag": etag, "cache-control": cache_control}
        response = SiteFileResponse(full_path, stat_result=stat_result, headers=headers, whole=whole)
        if condition == 304:
            return NotModifiedResponse(response.headers)
        return response

    async def _error_page(self, status_code: int) -> Response:
        """The site's page for a refusal (the page nginx sends for it), kept by nobody."""
        headers = {"cache-control": MADE_FOR_THIS_REQUEST}
        if status_code == 405:
            headers["allow"] = ALLOWED_METHODS
        try:
            page = await anyio.Path(self._root, ERROR_PAGES_FOLDER, ERROR_PAGES[status_code]).read_bytes()
        except OSError:  # the fault may be the disk's: say it without the page
            return PlainTextResponse(HTTPStatus(status_code).phrase, status_code, headers=headers)
        return HTMLResponse(page, status_code, headers=headers)


class SiteFileResponse(FileResponse):
    """A file as nginx sends it. A range it cannot serve (416) keeps the file's Cache-Control, as nginx's does
    (nginx adds its headers before it checks the range). `whole`: every Range is ignored (nginx's `max_ranges 0`)."""

    def __init__(self, path: str, *, stat_result: os.stat_result, headers: dict[str, str], whole: bool) -> None:
        super().__init__(path, stat_result=stat_result, headers=headers)
        self.whole = whole
        if whole:
            del self.headers["accept-ranges"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.whole:
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]}
        policy = (b"cache-control", self.headers["cache-control"].encode("latin-1"))

        async def send_keeping_policy(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 416:
                message = {**message, "headers": [*message.get("headers", []), policy]}
            await send(message)

        await super().__call__(scope, receive, send_keeping_policy)


def path_parts(path: str) -> list[str]:
    """Given Starlette's normalised path under static/ ("." for the folder itself), return its parts;
    raise Refused(404) for one that leaves the folder or names a dot-file (nginx's `location ~ /\\.`)."""
    parts = [part for part in path.replace(os.sep, "/").split("/") if part not in ("", ".")]
    if any(part == ".." or os.path.splitdrive(part)[0] for part in parts) or is_hidden("/".join(parts)):
        raise Refused(404)
    return parts


def open_folder(root: str, parts: list[str]) -> str:
    """Given the static folder and folder names under it, return that folder's path. Each step must be a real
    folder: a file or a link on the way is "not a folder" (ENOTDIR, so 404), as it is for nginx."""
    folder = root
    for part in parts:
        folder = os.path.join(folder, part)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), folder)
    return folder


def open_file(root: str, parts: list[str]) -> tuple[str, os.stat_result]:
    """Given the static folder and a path's parts, return the full path and status of what it names. A link is
    ELOOP (refused, as nginx refuses it); a file is opened and closed again, so one that cannot be read fails here."""
    if not parts:
        return root, os.stat(root)
    full_path = os.path.join(open_folder(root, parts[:-1]), parts[-1])
    mode = os.lstat(full_path).st_mode
    if stat.S_ISLNK(mode):
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), full_path)
    if stat.S_ISDIR(mode) and os.name == "nt":
        return full_path, os.lstat(full_path)  # Windows opens no folder as a file
    descriptor = os.open(full_path, OPEN_FLAGS)
    try:
        return full_path, os.fstat(descriptor)
    finally:
        os.close(descriptor)


def open_index(root: str, parts: list[str]) -> tuple[str, os.stat_result]:
    """Given a folder's parts, return its index.html as open_file does; a folder without one is refused (EACCES,
    so 403: nginx's "directory index is forbidden"), and one that is not a folder is not found."""
    folder = open_folder(root, parts)
    try:
        full_path, stat_result = open_file(folder, ["index.html"])
    except FileNotFoundError:
        raise PermissionError(errno.EACCES, "a folder without index.html", folder) from None
    if not stat.S_ISREG(stat_result.st_mode):
        raise PermissionError(errno.EACCES, "index.html is not a file", full_path)
    return full_path, stat_result


def refusal_status(error: OSError) -> int:
    """Given an error opening a static file, return the status nginx answers it with."""
    if error.errno in NOT_FOUND_ERRORS:
        return 404
    if error.errno in REFUSED_ERRORS:
        return 403
    return 500


def folder_redirect(scope: Scope) -> Response:
    """A folder asked for without its slash: 301 to the same path with it (and the query), as nginx answers."""
    query = scope.get("query_string", b"").decode("latin-1")
    location = scope["path"] + "/" + (f"?{query}" if query else "")
    return RedirectResponse(location, status_code=301, headers={"cache-control": MADE_FOR_THIS_REQUEST})


def conditional_status(request: Headers, etag: str, modified: int) -> int | None:
    """Given a request's conditional headers and a file's ETag and mtime (whole seconds), return 412, 304 or
    None (send the file), by nginx's rules and in its order: If-Unmodified-Since, If-Match, then
    If-Modified-Since (the exact time, nginx's default) and If-None-Match, both of which must hold for a 304."""
    if "if-unmodified-since" in request and http_date(request["if-unmodified-since"]) < modified:
        return 412
    if "if-match" in request and not etag_matches(request["if-match"], etag, weak=False):
        return 412
    if "if-modified-since" not in request and "if-none-match" not in request:
        return None
    if "if-modified-since" in request and http_date(request["if-modified-since"]) != modified:
        return None
    if "if-none-match" in request and not etag_matches(request["if-none-match"], etag, weak=True):
        return None
    return 304


def http_date(value: str) -> int:
    """Given an HTTP date, return it in seconds since the epoch; -1 if it is not one (as nginx reads it)."""
    parsed = parsedate_tz(value)
    return -1 if parsed is None else mktime_tz(parsed)


def etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match (strong comparison) or If-None-Match (weak) list names this ETag; `*` names any."""
    if header.strip() == "*":
        return True
    tags = [tag.strip(" \t") for tag in header.split(",")]
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return etag in tags


def file_etag(stat_result: os.stat_result) -> str:
    """Given a file's stat, return its ETag: hex mtime in nanoseconds and hex size, new on every save
    (nginx's has whole seconds where this has nanoseconds)."""
    return f'"{stat_result.st_mtime_ns:x}-{stat_result.st_size:x}"'


def is_hidden(relative: str) -> bool:
    """Whether a path names a dot-file or something inside a dot-folder (.env, .git/config, .index.html.swp):
    what an editor or a tool left there, never a page of the site."""
    return any(part.startswith(".") and part not in (".", "..") for part in relative.replace("\\", "/").split("/"))
