"""StaticFiles with a deliberate caching policy.

Starlette sends ETag and Last-Modified but no Cache-Control, so a browser
guesses how long to keep a file and a learner may see stale CSS after an edit.
The ETag is made the way nginx makes it, so a file has the same ETag whichever
server sends it and a browser's cached copy revalidates against either.
"""

from __future__ import annotations

import mimetypes
import os

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from webapp.caching import FINGERPRINTED
from webapp.fingerprints import original_name

# Some systems map these through the registry or an old mime.types; the browser
# then refuses to run the script or apply the stylesheet.
for _type, _extension in (
    ("text/javascript", ".js"),
    ("text/css", ".css"),
    ("image/svg+xml", ".svg"),
):
    mimetypes.add_type(_type, _extension)


class CachedStaticFiles(StaticFiles):
    def __init__(self, *, directory: str | os.PathLike[str], cache_control: str) -> None:
        super().__init__(directory=directory, follow_symlink=False)
        self.cache_control = cache_control
        self._root = os.path.realpath(directory)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        full_path, stat_result = super().lookup_path(path)
        # Checked where the path leads: a link inside static/ to a dot-file (envlink -> .env) is that dot-file.
        if stat_result is not None and is_hidden(os.path.relpath(os.path.realpath(full_path), self._root)):
            return "", None
        return full_path, stat_result

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await self._file_or_404(path, scope)
        except HTTPException as error:
            original = original_name(path)
            if error.status_code != 404 or original is None:
                raise
        # `stamp.1a2b3c4d5e.svg` is `stamp.svg` under a name that changes with its content.
        response = await self._file_or_404(original, scope)
        response.headers["cache-control"] = FINGERPRINTED
        return response

    async def _file_or_404(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except OSError:
            # A symlink loop or an unreadable entry: to the visitor it is not there.
            raise HTTPException(status_code=404) from None

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        headers = {"etag": nginx_etag(stat_result), "cache-control": self.cache_control}
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result, headers=headers)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def nginx_etag(stat_result: os.stat_result) -> str:
    """Given a file's stat, return the ETag nginx would send: hex mtime seconds and hex size."""
    return f'"{int(stat_result.st_mtime):x}-{stat_result.st_size:x}"'


def is_hidden(relative: str) -> bool:
    """Whether a path names a dot-file or something inside a dot-folder (.env, .git/config, .index.html.swp):
    what an editor or a tool left there, never a page of the site."""
    return any(part.startswith(".") and part not in (".", "..") for part in relative.replace("\\", "/").split("/"))
