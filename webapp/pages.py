"""HTML pages rendered by the application server on each request."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webapp.benchresults import latest_run
from webapp.deps import CountedView, ProcessDep, RequestLogDep, SettingsDep
from webapp.process import now
from webapp.sources import SourceNotFound, read_source
from webapp.templating import render

router = APIRouter(include_in_schema=False)

MAX_NAME_LENGTH = 40
DYNAMIC_TEMPLATE = "dynamic.html"
HEX_DUMP_BYTES = 1024


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("static", path="index.html"), status_code=307)


@router.get("/favicon.ico")
async def favicon(request: Request) -> RedirectResponse:
    # Browsers ask for /favicon.ico on their own (for /ping, say); the icon is a static file.
    return RedirectResponse(request.url_for("static", path="favicon.ico"), status_code=301)


@router.get("/dynamic", response_class=HTMLResponse)
def dynamic_page(request: Request, views: CountedView, process: ProcessDep, name: str = "") -> Response:
    started = time.perf_counter()
    client = request.client
    moment = now()
    values: dict[str, Any] = {
        "time": moment.isoformat(timespec="milliseconds"),
        "counter": process.next_number(),
        "pid": process.pid,
        # Behind a proxy uvicorn knows the visitor's address (X-Forwarded-For) but not the port: it says 0.
        "client": (f"{client.host}:{client.port}" if client.port else client.host) if client else "unknown",
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
    process.record_render(DYNAMIC_TEMPLATE, values)
    return response


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, views: CountedView) -> Response:
    return render(request, "compare.html", {"views": views, "unavailable": views.unavailable})


@router.get("/log", response_class=HTMLResponse)
def log_page(request: Request, views: CountedView, log: RequestLogDep, process: ProcessDep) -> Response:
    return render(
        request,
        "log.html",
        {"entries": log.recent(), "pid": process.pid, "views": views, "unavailable": views.unavailable},
    )


@router.get("/bench", response_class=HTMLResponse)
def bench_page(request: Request, views: CountedView, settings: SettingsDep) -> Response:
    run = latest_run(settings.bench_runs_dir, settings.bench_dir)
    return render(
        request,
        "bench.html",
        {"run": run, "views": views, "unavailable": views.unavailable},
    )


async def _source_page(
    request: Request, folder: str, root: Path, path: str, last_render: Mapping[str, object] | None
) -> Response:
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
            "last_render": last_render,
        },
    )


@router.get("/source/static/{path:path}", response_class=HTMLResponse)
async def static_source(request: Request, path: str, settings: SettingsDep) -> Response:
    return await _source_page(request, "static", settings.static_dir, path, last_render=None)


@router.get("/source/templates/{path:path}", response_class=HTMLResponse)
async def template_source(request: Request, path: str, settings: SettingsDep, process: ProcessDep) -> Response:
    return await _source_page(request, "templates", settings.templates_dir, path, process.last_render(path))


def _hex_dump(content: bytes) -> list[str]:
    """Given binary content, return its first bytes as hexdump -C style lines."""
    lines = []
    for offset in range(0, min(len(content), HEX_DUMP_BYTES), 16):
        chunk = content[offset : offset + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        text_part = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<47}  |{text_part}|")
    return lines
