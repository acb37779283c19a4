"""Everything create_app builds once per app, in one typed record kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from webapp.fingerprints import Fingerprints
from webapp.i18n import Catalogues
from webapp.links import Links
from webapp.process import ProcessInfo
from webapp.ratelimit import PostLimiter
from webapp.requestlog import RequestLog
from webapp.settings import Settings
from webapp.sources import SourceFiles
from webapp.storage import Storage

if TYPE_CHECKING:  # they use site_of(): imported here only for the type
    from webapp.live import Live
    from webapp.practice import Practice
    from webapp.templating import Templates


@dataclass(frozen=True)
class Site:
    settings: Settings
    process: ProcessInfo
    request_log: RequestLog
    database: Storage
    templates: Templates
    catalogues: Catalogues
    links: Links
    source_files: SourceFiles
    post_limiter: PostLimiter
    fingerprints: Fingerprints
    practice: Practice
    live: Live


def site_of(app: Starlette) -> Site:
    """Given the app a request came to, return what create_app built for it."""
    site: Site = app.state.site
    return site
