"""Links to the site's own routes, as paths worked out once.

Starlette's `url_for` walks the router on every call (a page here makes about
110 such calls, half of its render time) and builds an absolute URL from the
request's `Host` header. The routes never change while the site runs, so each
path is looked up once; and a path needs no host, so whatever `Host` a client
sends never ends up in a link or a redirect.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request

MAX_REMEMBERED = 1024  # parameters can come from a request (a file name): never grow without bound


class Links:
    def __init__(self, app: Starlette) -> None:
        self._app = app
        self._paths: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def path_for(self, name: str, /, **params: str) -> str:
        """Given a route's name and its path parameters, return its path, `/static/style.css` say."""
        key = (name, tuple(sorted(params.items())))
        path = self._paths.get(key)
        if path is None:
            path = str(self._app.url_path_for(name, **params))
            if len(self._paths) < MAX_REMEMBERED:
                self._paths[key] = path
        return path


def path_for(request: Request, name: str, /, **params: str) -> str:
    """The path of one of the site's routes as this request should link to it (under any root path)."""
    links: Links = request.app.state.site.links
    root_path: str = request.scope.get("root_path", "")
    return root_path + links.path_for(name, **params)
