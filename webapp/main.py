"""The application: `uvicorn webapp.main:app` starts it.

The lesson's first handler lives right here. Change what `test()` returns,
save, and reload http://127.0.0.1:8000/ping in the browser
(start the server with `--reload` so it restarts on save).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from webapp import api, docs, guestbook, i18n, pages
from webapp.database import Database
from webapp.headers import SiteHeadersMiddleware
from webapp.limits import RequestLimitsMiddleware
from webapp.process import ProcessInfo
from webapp.requestlog import RequestLog, RequestLogMiddleware
from webapp.settings import Settings
from webapp.static import CachedStaticFiles
from webapp.templating import create_templates

lesson = APIRouter()


@lesson.get("/ping")
def test() -> dict[str, str]:
    return {"message": "pong"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    database: Database = app.state.database
    # A database that is down at start-up does not stop the site: the static
    # side never needs it, and dynamic pages say it is unavailable.
    await run_in_threadpool(database.try_create_tables)
    yield
    database.dispose()


def site_middleware(settings: Settings, log: RequestLog) -> list[Middleware]:
    """The site's middleware, outermost first: the log sees every answer, a 413 included."""
    return [
        Middleware(RequestLogMiddleware, log=log),
        Middleware(SiteHeadersMiddleware),
        Middleware(
            RequestLimitsMiddleware, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes
        ),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    request_log = RequestLog(settings.request_log_size)
    app = FastAPI(
        title="Static vs dynamic",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        middleware=site_middleware(settings, request_log),
    )
    app.state.settings = settings
    app.state.process = ProcessInfo()
    app.state.request_log = request_log
    app.state.templates = create_templates(settings.templates_dir)
    app.state.translations = i18n.load_translations(settings.translations_dir)
    app.state.database = Database(settings.database_url)
    app.include_router(lesson)
    app.include_router(pages.router)
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
