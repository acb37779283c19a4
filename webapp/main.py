"""The application: `uvicorn webapp.main:app` starts it.

The lesson's first handler lives right here. Change what `test()` returns,
save, and reload http://127.0.0.1:8000/ping in the browser
(start the server with `--reload` so it restarts on save).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from webapp import api, pages
from webapp.process import ProcessInfo
from webapp.requestlog import RequestLog, RequestLogMiddleware
from webapp.servedby import ServedByMiddleware
from webapp.settings import Settings
from webapp.static import CachedStaticFiles
from webapp.templating import create_templates

lesson = APIRouter()


@lesson.get("/ping")
def test() -> dict[str, str]:
    return {"message": "pong"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="Static vs dynamic")
    app.state.settings = settings
    app.state.process = ProcessInfo()
    app.state.request_log = RequestLog(settings.request_log_size)
    app.state.templates = create_templates(settings.templates_dir)

    app.add_middleware(ServedByMiddleware)
    app.add_middleware(RequestLogMiddleware, log=app.state.request_log)
    app.include_router(lesson)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.mount(
        "/static",
        CachedStaticFiles(directory=settings.static_dir, cache_control=settings.static_cache_control),
        name="static",
    )
    return app


app = create_app()
