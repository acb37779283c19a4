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
overwritten: <out>/.prerendered.json remembers what it wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Scope

from tools.processes import HOST
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
# Each language's folder inside <out>, as static/index.html and static/en/index.html.
MANIFEST_NAME = ".prerendered.json"  # a dot-file: the site never serves it
STATIC_URL = "/static"  # where webapp.main mounts the static folder
SERVER_PORT = 8000
USER_AGENT = "python -m tools.prerender"  # also the command the page says made it
GZIP_LEVEL = 9
GZIP_SOURCE = f"gzip -{GZIP_LEVEL} of "
FILE_MODE = 0o644  # nginx's workers may run as another user: they must be able to read the files


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


def checked_out(static_dir: Path, out: Path) -> Path:
    """Given the static folder and the output folder, return the output folder with its links followed;
    refuse one that is not strictly inside the static folder or that lies in a dot-folder."""
    static_real = static_dir.resolve()
    if not static_real.is_dir():
        raise BadArgument(_("The static folder %(folder)s does not exist.") % {"folder": shown(static_dir)})
    out_real = out.resolve()
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


def read_manifest(out: Path) -> dict[str, str]:
    """Given the output folder, return what this command wrote there before: file (relative, with /) -> sha256."""
    manifest = out / MANIFEST_NAME
    if not os.path.lexists(manifest):
        return {}
    if manifest.is_symlink() or not manifest.is_file():
        raise PrerenderRefused(_("%(file)s is not a regular file; move it away.") % {"file": shown(manifest)})
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PrerenderRefused(
            _("%(file)s is not a list this command wrote (%(error)s); move it away.")
            % {"file": shown(manifest), "error": error}
        ) from None
    if not isinstance(entries, dict) or not all(isinstance(value, str) for value in entries.values()):
        raise PrerenderRefused(
            _("%(file)s is not a list this command wrote; move it away.") % {"file": shown(manifest)}
        )
    return entries


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_with(out: Path, file: str, manifest: dict[str, str]) -> str | None:
    """Given a file to write (relative to <out>), return why it must not be written, or None if it may be."""
    target = out / file
    for folder in [*reversed(target.relative_to(out).parents)][1:]:
        where = out / folder
        if os.path.lexists(where) and (where.is_symlink() or not where.is_dir()):
            if where.is_symlink():
                said = _("%(folder)s is a symbolic link, so %(name)s cannot be written inside it.")
            else:
                said = _("%(folder)s is not a folder, so %(name)s cannot be written inside it.")
            return said % {"folder": shown(where), "name": target.name}
    if not os.path.lexists(target):
        return None
    if target.is_symlink() or not target.is_file():
        if target.is_symlink():
            return _("%(file)s is a symbolic link.") % {"file": shown(target)}
        return _("%(file)s is not a regular file.") % {"file": shown(target)}
    if file not in manifest:
        return _("%(file)s exists and was not written by this command.") % {"file": shown(target)}
    if sha256_of(target.read_bytes()) != manifest[file]:
        return _("%(file)s was edited since this command wrote it.") % {"file": shown(target)}
    return None


def check_targets(out: Path, files: Sequence[str], manifest: dict[str, str]) -> None:
    """Refuse, naming every one, if any of these files (relative to <out>) must not be overwritten."""
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


def write_atomically(path: Path, data: bytes, *, within: Path, mtime_ns: int | None = None) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never half of one:
    a temporary dot-file in the same folder (never served), then renamed over the old name.
    Refuse if the folder it goes in no longer lies inside `within` (a link put there since the checks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.path.realpath(within) != str(within) or not Path(os.path.realpath(path.parent)).is_relative_to(within):
        raise PrerenderRefused(
            _("%(folder)s no longer lies inside %(within)s: nothing more was written.")
            % {"folder": shown(path.parent), "within": shown(within)}
        )
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as file:
        temporary = Path(file.name)
    try:
        temporary.write_bytes(data)
        temporary.chmod(FILE_MODE)
        if mtime_ns is not None:
            os.utime(temporary, ns=(mtime_ns, mtime_ns))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_manifest(out: Path, manifest: dict[str, str]) -> None:
    present = {file: sha for file, sha in sorted(manifest.items()) if (out / file).is_file()}
    write_atomically(out / MANIFEST_NAME, (json.dumps(present, indent=2) + "\n").encode(), within=out)


def prerender(paths: Sequence[str], *, static_dir: Path, out: Path, database_url: str | None = None) -> list[Written]:
    """Given site paths, the static folder and the output folder inside it, render each path in each language
    and write it there with its .gz; return what was written. Refuse, writing nothing, when anything is wrong.
    The pages count their views in `database_url`, by default the site's own (DATABASE_URL or data/site.db)."""
    pages = pages_for(paths)
    out = checked_out(static_dir, out)
    manifest = read_manifest(out)
    files = [name for page in pages for name in (page.file, page.file + ".gz")]
    check_targets(out, files, manifest)
    settings = replace(Settings.from_env(), static_dir=static_dir.resolve())
    rendered = asyncio.run(render_pages(pages, settings, out_url=url_of(out, static_dir)))
    check_targets(out, files, manifest)  # rendering takes a moment: check again just before writing

    written: list[Written] = []
    for page in pages:
        html, packed = rendered[page], gzip.compress(rendered[page], compresslevel=GZIP_LEVEL, mtime=0)
        html_path = out / page.file
        write_atomically(html_path, html, within=out)
        manifest[page.file] = sha256_of(html)
        write_manifest(out, manifest)
        # The same modification time on both: nginx's gzip_static sends the .gz with the .html's headers.
        write_atomically(Path(f"{html_path}.gz"), packed, within=out, mtime_ns=html_path.stat().st_mtime_ns)
        manifest[page.file + ".gz"] = sha256_of(packed)
        write_manifest(out, manifest)
        written.append(Written(html_path, len(html), manifest[page.file], page.source))
        written.append(
            Written(Path(f"{html_path}.gz"), len(packed), manifest[page.file + ".gz"], GZIP_SOURCE + page.source)
        )
    return written


def url_of(path: Path, static_dir: Path) -> str:
    """Given a file inside the static folder, return the URL path the site serves it at: /static/prerendered/x.html."""
    return f"{STATIC_URL}/{path.resolve().relative_to(static_dir.resolve()).as_posix()}"


def shown(path: Path) -> str:
    """Given a path, return it as a person should read it: relative to the project when inside it."""
    absolute = Path(os.path.abspath(path))
    return str(absolute.relative_to(PROJECT_ROOT)) if absolute.is_relative_to(PROJECT_ROOT) else str(absolute)


def report(written: Sequence[Written], static_dir: Path) -> list[str]:
    """Given what was written, return the lines that tell a person: one per file, then where each page is served."""
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
        urls = [url_of(page.path, static_dir) for page in pages[first : first + per_path]]
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
