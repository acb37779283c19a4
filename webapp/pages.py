"""HTML pages rendered by the application server on each request."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from webapp.database import DatabaseUnavailable
from webapp.process import ProcessInfo, now
from webapp.sources import SourceNotFound, read_source
from webapp.templating import render

router = APIRouter(include_in_schema=False)

MAX_NAME_LENGTH = 40
DYNAMIC_TEMPLATE = "dynamic.html"
HEX_DUMP_BYTES = 1024


@dataclass(frozen=True)
class PageViews:
    total: int | None  # views of this page stored in the database, this one included; None: no database

    @property
    def unavailable(self) -> bool:
        return self.total is None


def count_page_view(request: Request) -> PageViews:
    """Count this view of the page in the database. A plain def: FastAPI runs it in a thread."""
    try:
        return PageViews(request.app.state.database.count_view(request.scope["route"].path))
    except DatabaseUnavailable:
        return PageViews(None)


CountedView = Annotated[PageViews, Depends(count_page_view)]


@router.get("/")
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("static", path="index.html"), status_code=307)


@router.get("/favicon.ico")
def favicon(request: Request) -> RedirectResponse:
    # Browsers ask for /favicon.ico on their own (for /ping, say); the icon is a static file.
    return RedirectResponse(request.url_for("static", path="favicon.ico"), status_code=301)


@router.get("/dynamic", response_class=HTMLResponse)
def dynamic_page(request: Request, views: CountedView, name: str = "") -> Response:
    started = time.perf_counter()
    process: ProcessInfo = request.app.state.process
    client = request.client
    moment = now()
    values: dict[str, Any] = {
        "time": moment.isoformat(timespec="milliseconds"),
        "counter": process.next_number(),
        "pid": process.pid,
        "client": f"{client.host}:{client.port}" if client else "unknown",
        "user_agent": request.headers.get("user-agent", ""),
        "scheme": request.url.scheme,
        "via": "nginx" if "x-forwarded-for" in request.headers else "direct",
        "name": name.strip()[:MAX_NAME_LENGTH],
        "stored_views": views.total,
    }
    context = {"values": values, "moment": moment, "views": views, "unavailable": views.unavailable}
    response = render(request, DYNAMIC_TEMPLATE, context)
    render_ms = (time.perf_counter() - started) * 1000
    response.headers["Cache-Control"] = "no-store"
    response.headers["Server-Timing"] = f'render;dur={render_ms:.2f};desc="Jinja render"'
    process.last_render[DYNAMIC_TEMPLATE] = values
    return response


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, views: CountedView) -> Response:
    return render(request, "compare.html", {"views": views, "unavailable": views.unavailable})


@router.get("/log", response_class=HTMLResponse)
def log_page(request: Request, views: CountedView) -> Response:
    entries = request.app.state.request_log.recent()
    return render(
        request,
        "log.html",
        {"entries": entries, "pid": request.app.state.process.pid, "views": views, "unavailable": views.unavailable},
    )


@router.get("/bench", response_class=HTMLResponse)
def bench_page(request: Request, views: CountedView) -> Response:
    results_path = request.app.state.settings.bench_dir / "results.json"
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = None
    return render(request, "bench.html", {"results": results, "views": views, "unavailable": views.unavailable})


@router.get("/bench/chart.svg")
def bench_chart(request: Request) -> FileResponse:
    chart = request.app.state.settings.bench_dir / "chart.svg"
    if not chart.is_file():
        raise HTTPException(status_code=404, detail="No benchmark chart yet: run python -m webapp.bench")
    return FileResponse(chart, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


async def _source_page(request: Request, folder: str, path: str) -> Response:
    settings = request.app.state.settings
    root = settings.static_dir if folder == "static" else settings.templates_dir
    try:
        content = await read_source(root, path)
    except SourceNotFound:
        raise HTTPException(status_code=404, detail=f"No such file in {folder}/ to show.") from None
    try:
        text: str | None = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return render(
        request,
        "source.html",
        {
            "folder": folder,
            "path": path,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "text": text,
            "hex_lines": None if text is not None else _hex_dump(content),
            "last_render": request.app.state.process.last_render.get(path) if folder == "templates" else None,
        },
    )


@router.get("/source/static/{path:path}", response_class=HTMLResponse)
async def static_source(request: Request, path: str) -> Response:
    return await _source_page(request, "static", path)


@router.get("/source/templates/{path:path}", response_class=HTMLResponse)
async def template_source(request: Request, path: str) -> Response:
    return await _source_page(request, "templates", path)


def _hex_dump(content: bytes) -> list[str]:
    """Given binary content, return its first bytes as hexdump -C style lines."""
    lines = []
    for offset in range(0, min(len(content), HEX_DUMP_BYTES), 16):
        chunk = content[offset : offset + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        text_part = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<47}  |{text_part}|")
    return lines
