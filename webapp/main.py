"""The application: `uvicorn webapp.main:app` starts it.

The lesson's first handler lives right here. Change what `test()` returns,
save, and reload http://127.0.0.1:8000/ping in the browser
(start the server with `--reload` so it restarts on save).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from webapp import api, docs, guestbook, i18n, live, logs, pages, practice, spectrum
from webapp.errors import EXCEPTION_HANDLERS
from webapp.fingerprints import Fingerprints
from webapp.lifespan import lifespan
from webapp.links import Links
from webapp.middleware import site_middleware
from webapp.process import ProcessInfo
from webapp.ratelimit import PostLimiter
from webapp.requestlog import RequestLog
from webapp.settings import Settings
from webapp.site import Site
from webapp.sources import SourceFiles
from webapp.static import CachedStaticFiles
from webapp.storage import Storage
from webapp.templating import Templates

lesson = APIRouter()


@lesson.get("/ping")
def test():
    return {"message": "pong"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    # A worker of the stack (it has the secret) serves strangers: no query strings in its log.
    logs.bound_what_one_client_can_write(query_strings=not settings.proxy_secret)
    request_log = RequestLog(settings.request_log_size)
    app = FastAPI(
        title="Static vs dynamic",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        middleware=site_middleware(settings, request_log),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    links = Links(app)
    catalogues = i18n.Catalogues(settings.translations_dir)
    this_practice = practice.practice_for(settings)
    app.state.site = Site(
        settings=settings,
        process=ProcessInfo(),
        request_log=request_log,
        database=Storage(settings.database_url, max_entries=settings.guestbook_max_entries),
        templates=Templates(settings.templates_dir, links, catalogues),
        catalogues=catalogues,
        links=links,
        source_files=SourceFiles(),
        post_limiter=PostLimiter(settings.posts_per_minute),
        fingerprints=Fingerprints(settings.static_dir),
        practice=this_practice,
        live=live.live_for(settings, request_log, this_practice),
    )
    app.include_router(lesson)
    app.include_router(pages.router)
    app.include_router(spectrum.router)
    app.include_router(practice.router)
    app.include_router(live.router)
    app.include_router(api.router)
    app.include_router(guestbook.page_router)
    app.include_router(guestbook.api_router)
    docs.install(app)
    app.mount(
        "/static",
        CachedStaticFiles(directory=settings.static_dir, cache_control=settings.static_cache_control),
        name="static",
    )
    return app


app = create_app()
