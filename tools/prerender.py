"""Render dynamic pages once, now, into static files: the idea of a static site generator.

    python -m tools.prerender [PATH ...] [--static-dir DIR] [--out DIR]

Each PATH (default /dynamic) is asked of the real app, in this process and with
no server, once per language: GET /dynamic?lang=ko becomes <out>/dynamic.html
and GET /dynamic?lang=en becomes <out>/en/dynamic.html, each with a .gz beside
it for nginx's gzip_static. nginx then sends them like any other file (the same
bytes every time, so ETag and 304 work), but the time and the counters in them
stay as they were when they were rendered.

<out> (default <static-dir>/prerendered) must lie inside the static folder.
A file this command did not write, or one edited since it wrote it, is never
overwritten: <out>/.prerendered.json remembers what it wrote. It writes only
through folders it opened itself from the static folder down, never through a
link (tools.safefolder), so a folder swapped for a link while it runs leads
nothing outside.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gzip
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeGuard

from starlette.types import ASGIApp, Message, Scope

from tools.processes import HOST
from tools.safefolder import (
    FileSystemFailure,
    Folder,
    NotAFolder,
    NotARegularFile,
    file_status,
    is_present,
    open_folders,
    open_static,
    opened_regular_file,
    put,
)
from webapp.i18n import LANGUAGES
from webapp.main import create_app
from webapp.paths import PROJECT_ROOT, STATIC_DIR
from webapp.process import now
from webapp.settings import Settings
from webapp.spectrum import PRERENDERED_FOLDER, PRERENDERED_PATH, PRERENDERING_STATE, Prerendering, prerendered_file
from webapp.terminal import pad
from webapp.terminal import text as _

DEFAULT_PATHS = (PRERENDERED_PATH,)
DEFAULT_OUT_FOLDER = PRERENDERED_FOLDER
# Only plain site paths: no query, no dots (so no `..` and no dot-files), nothing that is not a file name.
SITE_PATH = re.compile(r"^/[a-z0-9][a-z0-9/_-]*$")
MANIFEST_NAME = ".prerendered.json"  # a dot-file: the site never serves it
STATIC_URL = "/static"  # where webapp.main mounts the static folder
SERVER_PORT = 8000
USER_AGENT = "python -m tools.prerender"  # also the command the page says made it
GZIP_LEVEL = 9
GZIP_SOURCE = f"gzip -{GZIP_LEVEL} of "
# What .prerendered.json may hold: the names pages_for() gives and their sha256, about 100 bytes a file.
MANIFEST_FILE = re.compile(r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*\.html(?:\.gz)?")
SHA256 = re.compile(r"[0-9a-f]{64}")
MANIFEST_MAX_BYTES = 1024 * 1024


class PrerenderRefused(Exception):
    """Nothing was written, for the reason the message gives (exit code 1)."""

    exit_code = 1


class BadArgument(PrerenderRefused):
    """The command line asked for something this command will not do (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Written:
    path: Path
    size: int
    sha256: str
    source: str  # "GET /dynamic?lang=ko", or "gzip -9 of GET /dynamic?lang=ko" for its .gz


@dataclass(frozen=True)
class Page:
    """One page to render: the request that makes it and its file, relative to <out>."""

    path: str
    language: str
    file: str  # forward slashes: "dynamic.html", "en/dynamic.html"

    @property
    def request(self) -> str:
        return f"{self.path}?lang={self.language}"

    @property
    def source(self) -> str:
        return f"GET {self.request}"


def pages_for(paths: Sequence[str]) -> list[Page]:
    """Given site paths, return the pages to render, each path once per language; refuse a path that is not plain."""
    pages: dict[str, Page] = {}
    for path in dict.fromkeys(paths):
        if not SITE_PATH.fullmatch(path) or "//" in path or path.endswith("/"):
            raise BadArgument(
                _(
                    "%(path)s is not a path this command renders: write a site path such as /dynamic "
                    "(lower-case letters, digits, -, _ and /; no query, no dots)."
                )
                % {"path": repr(path)}
            )
        for language in LANGUAGES:
            page = Page(path, language, prerendered_file(path, language))
            other = pages.get(page.file)
            if other is not None:
                raise BadArgument(
                    _("%(first)s and %(second)s would both be written to %(file)s.")
                    % {"first": other.source, "second": page.source, "file": page.file}
                )
            pages[page.file] = page
    return list(pages.values())


def resolved(path: Path) -> Path:
    """Given a path, return it with its links followed; refuse one whose links go round in a loop."""
    try:
        real = path.resolve()
    except RuntimeError:  # "Symlink loop" up to Python 3.12
        raise looping(path) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise looping(path) from None
        raise failure(error, path, writing=False) from None
    # Python 3.13 hands back a looping link as it is (non-strict): asking the system about the deepest
    # part that exists finds the loop.
    for part in [real, *real.parents]:
        try:
            os.stat(part)
        except FileNotFoundError:
            continue
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise looping(path) from None
            raise failure(error, path, writing=False) from None
        break
    return real


def looping(path: Path) -> BadArgument:
    return BadArgument(_("%(path)s leads nowhere: its symbolic links go round in a loop.") % {"path": path})


def checked_out(static_dir: Path, out: Path) -> Path:
    """Given the static folder and the output folder, return the output folder with its links followed;
    refuse one that is not strictly inside the static folder or that lies in a dot-folder."""
    static_real = resolved(static_dir)
    if not static_real.is_dir():
        raise BadArgument(_("The static folder %(folder)s does not exist.") % {"folder": shown(static_dir)})
    out_real = resolved(out)
    if out_real == static_real:
        raise BadArgument(
            _(
                "--out %(out)s is the static folder itself: choose a folder inside it, "
                "%(example)s say, so that rendered pages never mix with hand-written files."
            )
            % {"out": out, "example": shown(static_dir / DEFAULT_OUT_FOLDER)}
        )
    if not out_real.is_relative_to(static_real):
        leads = "" if out_real == out.absolute() else " " + _("(it leads to %(target)s)") % {"target": out_real}
        raise BadArgument(
            _(
                "--out %(out)s is outside the static folder %(folder)s%(leads)s: "
                "only files inside it are served, and this command writes nowhere else."
            )
            % {"out": out, "folder": shown(static_dir), "leads": leads}
        )
    if any(part.startswith(".") for part in out_real.relative_to(static_real).parts):
        raise BadArgument(
            _("--out %(out)s is in a dot-folder (%(folder)s): the site never serves dot-files.")
            % {"out": out, "folder": shown(out_real)}
        )
    if out_real.exists() and not out_real.is_dir():
        raise BadArgument(_("--out %(out)s is a file, not a folder.") % {"out": out})
    return out_real


def failure(error: OSError, path: Path, *, writing: bool) -> PrerenderRefused:
    """Given an error of the file system and the path it is about, return the refusal that says it in a sentence."""
    if isinstance(error, FileNotFoundError):
        said = _("%(path)s was removed while this command was running: run it again.")
        return PrerenderRefused(said % {"path": shown(path)})
    said = _("%(path)s could not be written: %(error)s.") if writing else _("%(path)s could not be read: %(error)s.")
    return PrerenderRefused(said % {"path": shown(path), "error": error.strerror or error})


def read_manifest(out: Folder | None) -> dict[str, str]:
    """Given the output folder (None: not made yet), return what this command wrote there before:
    file (relative, with /) -> sha256. Refuse a manifest this command cannot have written."""
    if out is None:
        return {}
    path = out.path / MANIFEST_NAME
    try:
        with opened_regular_file(out, MANIFEST_NAME) as file:
            data = file.read(MANIFEST_MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    except NotARegularFile:
        raise PrerenderRefused(_("%(file)s is not a regular file; move it away.") % {"file": shown(path)}) from None
    except OSError as error:
        raise failure(error, path, writing=False) from None
    return manifest_in(data, path)


def manifest_in(data: bytes, path: Path) -> dict[str, str]:
    """Given the bytes of a manifest and its path, return its entries; refuse anything but a small flat JSON object
    of the files this command writes and their sha256 (one nested deeper than Python's recursion limit included)."""
    entries: object = None
    if len(data) <= MANIFEST_MAX_BYTES:
        try:
            entries = json.loads(data.decode("utf-8"))
        except ValueError as error:  # not UTF-8, not JSON, or a number too long to read
            raise PrerenderRefused(
                _("%(file)s is not a manifest this command wrote (%(error)s); move it away.")
                % {"file": shown(path), "error": error}
            ) from None
        except RecursionError:
            entries = None
    if not is_manifest(entries):
        raise PrerenderRefused(
            _("%(file)s is not a manifest this command wrote; move it away.") % {"file": shown(path)}
        )
    return entries


def is_manifest(entries: object) -> TypeGuard[dict[str, str]]:
    return isinstance(entries, dict) and all(
        isinstance(file, str) and MANIFEST_FILE.fullmatch(file) and isinstance(sha, str) and SHA256.fullmatch(sha)
        for file, sha in entries.items()
    )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_with(out: Folder, file: str, manifest: dict[str, str]) -> str | None:
    """Given the output folder and a file to write in it (relative, with /), return why it must not be written,
    or None if it may be."""
    *names, name = file.split("/")
    with ExitStack() as folders:
        try:
            folder = open_folders(out, names, folders, create=False)
        except NotAFolder as error:
            if error.link:
                said = _("%(folder)s is a symbolic link, so %(name)s cannot be written inside it.")
            else:
                said = _("%(folder)s is not a folder, so %(name)s cannot be written inside it.")
            return said % {"folder": shown(error.path), "name": name}
        return None if folder is None else problem_in(folder, name, manifest.get(file))


def problem_in(folder: Folder, name: str, sha256: str | None) -> str | None:
    """Given a folder, the name of a file to write in it and the sha256 this command wrote it with (None: never),
    return why it must not be written, or None if it may be."""
    target = folder.path / name
    info = file_status(folder, name)
    if info is None:
        return None
    if stat.S_ISLNK(info.st_mode):
        return _("%(file)s is a symbolic link.") % {"file": shown(target)}
    if not stat.S_ISREG(info.st_mode):
        return _("%(file)s is not a regular file.") % {"file": shown(target)}
    if sha256 is None:
        return _("%(file)s exists and was not written by this command.") % {"file": shown(target)}
    try:
        with opened_regular_file(folder, name) as file:
            if hashlib.file_digest(file, "sha256").hexdigest() != sha256:
                return _("%(file)s was edited since this command wrote it.") % {"file": shown(target)}
    except FileNotFoundError:
        return None
    except NotARegularFile:
        return _("%(file)s is not a regular file.") % {"file": shown(target)}
    except OSError as error:
        raise failure(error, target, writing=False) from None
    return None


def check_targets(out: Folder | None, files: Sequence[str], manifest: dict[str, str]) -> None:
    """Refuse, naming every one, if any of these files (relative to <out>; None: not made yet) must not be
    overwritten."""
    if out is None:
        return
    problems = [problem for file in files if (problem := problem_with(out, file, manifest))]
    if problems:
        raise PrerenderRefused(
            "\n".join([*problems, _("Nothing was written: move those files away, or choose another --out.")])
        )


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


async def get(app: ASGIApp, path: str, query: str, *, state: dict[str, Any] | None = None) -> Answer:
    """Given an app, a path and a query string, return what the app answers to a GET of them,
    called as uvicorn calls it: one ASGI call, with the request's scope, `receive` and `send`.
    `state` starts the request's state (`request.state`), which uvicorn starts empty."""
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "", "state": dict(state or {}),
        "headers": [(b"host", f"{HOST}:{SERVER_PORT}".encode()), (b"user-agent", USER_AGENT.encode())],
        "server": (HOST, SERVER_PORT), "client": (HOST, 0),
    }  # fmt: skip
    start: Message = {}
    body = bytearray()
    answered = asyncio.Event()
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if requests:
            return requests.pop()
        await answered.wait()  # asked again: only to hear that the client left, once the answer is sent
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    answered.set()
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in start.get("headers", [])}
    return Answer(start.get("status", 0), headers.get("content-type", ""), bytes(body))


async def render_pages(pages: Sequence[Page], settings: Settings, *, out_url: str) -> dict[Page, bytes]:
    """Given pages, the site's settings and the URL path of the output folder, return each page's HTML as the
    real app renders it, start-up included, told that it is being made into a file (webapp.spectrum.Prerendering):
    a page may then say so, and link its other languages' files by root-relative paths, naming no host."""
    app = create_app(settings)
    rendered: dict[Page, bytes] = {}
    files = {(page.path, page.language): f"{out_url}/{page.file}" for page in pages}
    async with app.router.lifespan_context(app):
        for page in pages:
            language_paths = {language: files[page.path, language] for language in LANGUAGES}
            prerendering = Prerendering(at=now(), command=USER_AGENT, language_paths=language_paths)
            try:
                answer = await get(app, page.path, f"lang={page.language}", state={PRERENDERING_STATE: prerendering})
            except Exception as error:
                raise PrerenderRefused(
                    _("%(page)s failed: %(error)s. Nothing was written.") % {"page": page.source, "error": repr(error)}
                ) from error
            if answer.status != 200:
                raise PrerenderRefused(
                    _(
                        "%(page)s answered %(status)s, not 200 OK: "
                        "only a page that renders can be prerendered. Nothing was written."
                    )
                    % {"page": page.source, "status": status_line(answer.status)}
                )
            if not answer.content_type.startswith("text/html"):
                content_type = answer.content_type or _("no content type")
                refusal = _("%(page)s answered %(type)s, not text/html: only HTML pages are prerendered.")
                raise PrerenderRefused(
                    refusal % {"page": page.source, "type": content_type} + " " + _("Nothing was written.")
                )
            rendered[page] = answer.body
    return rendered


def status_line(status: int) -> str:
    """Given an HTTP status code, return it with its reason: 404 Not Found."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def put_page_file(folder: Folder, name: str, data: bytes, sha256: str | None, *, mtime_ns: int | None = None) -> int:
    """As put, once the file there is checked again, just before: someone may have made or edited it since the
    checks. `sha256` is what this command wrote it with before (None: never)."""
    if problem_in(folder, name, sha256):
        raise PrerenderRefused(
            _(
                "%(file)s was changed by someone else while this command was running, "
                "so it stopped and left that file as it is."
            )
            % {"file": shown(folder.path / name)}
        )
    return put(folder, name, data, mtime_ns=mtime_ns)


def write_manifest(out: Folder, manifest: dict[str, str]) -> None:
    present = {file: sha for file, sha in sorted(manifest.items()) if is_present(out, file)}
    put(out, MANIFEST_NAME, (json.dumps(present, indent=2) + "\n").encode())


def write_pages(
    out: Folder, pages: Sequence[Page], rendered: dict[Page, bytes], manifest: dict[str, str]
) -> list[Written]:
    """Given the output folder, the pages and their HTML, write each page and its .gz, noting each in the manifest
    as soon as it is written; return what was written."""
    return [file for page in pages for file in write_page(out, page, rendered[page], manifest)]


def write_page(out: Folder, page: Page, html: bytes, manifest: dict[str, str]) -> list[Written]:
    packed = gzip.compress(html, compresslevel=GZIP_LEVEL, mtime=0)
    *names, name = page.file.split("/")
    with ExitStack() as folders:
        folder = open_folders(out, names, folders, create=True)
        assert folder is not None  # made if it was not there
        modified_ns = put_page_file(folder, name, html, manifest.get(page.file))
        manifest[page.file] = sha256_of(html)
        write_manifest(out, manifest)
        # The same modification time on both: nginx's gzip_static sends the .gz with the .html's headers.
        put_page_file(folder, f"{name}.gz", packed, manifest.get(f"{page.file}.gz"), mtime_ns=modified_ns)
        manifest[f"{page.file}.gz"] = sha256_of(packed)
        write_manifest(out, manifest)
    return [
        Written(folder.path / name, len(html), manifest[page.file], page.source),
        Written(folder.path / f"{name}.gz", len(packed), manifest[f"{page.file}.gz"], GZIP_SOURCE + page.source),
    ]


def prerender(paths: Sequence[str], *, static_dir: Path, out: Path, database_url: str | None = None) -> list[Written]:
    """Given site paths, the static folder and the output folder inside it, render each path in each language
    and write it there with its .gz; return what was written. Refuse, writing nothing, when anything is wrong.
    The pages count their views in `database_url`, by default the site's own (DATABASE_URL or data/site.db)."""
    pages = pages_for(paths)
    static_real, out = resolved(static_dir), checked_out(static_dir, out)
    out_names = out.relative_to(static_real).parts
    files = [name for page in pages for name in (page.file, page.file + ".gz")]
    try:
        with ExitStack() as folders:
            out_folder = open_folders(open_static(static_real, folders), out_names, folders, create=False)
            manifest = read_manifest(out_folder)
            check_targets(out_folder, files, manifest)
        settings = replace(Settings.from_env(), static_dir=static_real)
        # Rendering takes a moment, and anything may change meanwhile: everything is checked again after it.
        rendered = asyncio.run(render_pages(pages, settings, out_url=url_of(out, static_real)))
        with ExitStack() as folders:
            static = open_static(static_real, folders)
            check_targets(open_folders(static, out_names, folders, create=False), files, manifest)  # once more
            out_folder = open_folders(static, out_names, folders, create=True)
            assert out_folder is not None  # made if it was not there
            return write_pages(out_folder, pages, rendered, manifest)
    except NotAFolder as error:
        raise PrerenderRefused(
            _(
                "%(folder)s was replaced by a symbolic link or a file while this command was running, "
                "so it stopped without writing there."
            )
            % {"folder": shown(error.path)}
        ) from None
    except FileSystemFailure as error:
        raise failure(error.error, error.path, writing=error.writing) from None


def url_of(path: Path, static_dir: Path) -> str:
    """Given a file inside the static folder and that folder, spelled alike, return the URL path the site serves
    the file at: /static/prerendered/x.html. No link is followed: one may have been put on the way since."""
    return f"{STATIC_URL}/{path.relative_to(static_dir).as_posix()}"


def shown(path: Path) -> str:
    """Given a path, return it as a person should read it: relative to the project when inside it."""
    absolute = Path(os.path.abspath(path))
    return str(absolute.relative_to(PROJECT_ROOT)) if absolute.is_relative_to(PROJECT_ROOT) else str(absolute)


def report(written: Sequence[Written], static_dir: Path) -> list[str]:
    """Given what was written, return the lines that tell a person: one per file, then where each page is served."""
    static_real = resolved(static_dir)  # what the written paths start with
    width = max((len(shown(file.path)) for file in written), default=0)
    lines = []
    for file in written:
        where = _("wrote %(path)s  %(size)s bytes") % {
            "path": pad(shown(file.path), width),
            "size": f"{file.size:>9,}",
        }
        if file.source.startswith(GZIP_SOURCE):
            lines.append(f"{where}  " + _("(gzip -%(level)s of the line above)") % {"level": GZIP_LEVEL})
        else:
            lines.append(f"{where}  sha256 {file.sha256[:12]}…  " + _("from %(source)s") % {"source": file.source})
    pages = [file for file in written if not file.source.startswith(GZIP_SOURCE)]
    per_path = len(LANGUAGES)  # each path's pages come together, one per language
    for first in range(0, len(pages), per_path):
        urls = [url_of(page.path, static_real) for page in pages[first : first + per_path]]
        lines.append(_("served at %(urls)s") % {"urls": _(" and ").join(urls)})
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.prerender",
        description=_("Render dynamic pages once, now, into static files: the idea of a static site generator."),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        default=list(DEFAULT_PATHS),
        help=_("site paths to render (default /dynamic)"),
    )
    parser.add_argument(
        "--static-dir",
        type=Path,
        metavar="DIR",
        default=STATIC_DIR,
        help=_("the site's static folder (default %(default)s)") % {"default": shown(STATIC_DIR)},
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=_("where to write, inside the static folder (default <static-dir>/%(default)s)")
        % {"default": DEFAULT_OUT_FOLDER},
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    static_dir: Path = args.static_dir
    out: Path = args.out if args.out is not None else static_dir / DEFAULT_OUT_FOLDER
    try:
        written = prerender(args.paths, static_dir=static_dir, out=out)
    except PrerenderRefused as error:
        print(_("python -m tools.prerender: %(error)s") % {"error": error}, file=sys.stderr)
        return error.exit_code
    print("\n".join(report(written, static_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
