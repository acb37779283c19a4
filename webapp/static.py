"""StaticFiles with a deliberate caching policy.

Starlette sends ETag and Last-Modified but no Cache-Control, so a browser
guesses how long to keep a file and a learner may see stale CSS after an edit.
"""

from __future__ import annotations

import mimetypes
import os

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

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

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except OSError:
            # A symlink loop or an unreadable entry: to the visitor it is not there.
            raise HTTPException(status_code=404) from None
        if response.status_code in (200, 206, 304):
            response.headers["Cache-Control"] = self.cache_control
        return response
