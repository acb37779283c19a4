"""HTML pages rendered by the application server on each request."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webapp.benchresults import latest_run
from webapp.caching import ICON_REDIRECT, MADE_FOR_THIS_REQUEST
from webapp.deps import CountedView, ProcessDep, RequestLogDep, SettingsDep, SourceFilesDep
from webapp.errors import translator
from webapp.i18n import N_
from webapp.links import path_for
from webapp.process import Render, now
from webapp.sources import SourceFiles, SourceNotFound
from webapp.templating import render
from webapp.visitors import came_through_nginx, format_address, same_visitor, visitor_of

router = APIRouter(include_in_schema=False)

MAX_NAME_LENGTH = 40
DYNAMIC_TEMPLATE = "dynamic.html"
HEX_DUMP_BYTES = 1024
# What /dynamic shows of a visitor: the source view shows them only to that visitor.
PERSONAL_VALUES = ("client", "user_agent", "name")


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    return RedirectResponse(path_for(request, "static", path="index.html"), status_code=307)


@router.get("/favicon.ico")
async def favicon(request: Request) -> RedirectResponse:
    # Browsers ask for /favicon.ico on their own (for /ping, say); the icon is a static file.
    headers = {"Cache-Control": ICON_REDIRECT}
    return RedirectResponse(path_for(request, "static", path="favicon.ico"), status_code=301, headers=headers)


@dataclass(frozen=True)
class DynamicValues:
    """What /dynamic works out for each request: the blanks its template fills in (`values.time`...)."""

    time: str
    counter: int
    pid: int
    client: str
    user_agent: str
    scheme: str
    via: str  # "nginx" or "direct"
    name: str
    stored_views: int | None


@router.get("/dynamic", response_class=HTMLResponse)
async def dynamic_page(request: Request, views: CountedView, process: ProcessDep, name: str = "") -> Response:
    client = request.client
    moment = now()
    values = DynamicValues(
        time=moment.isoformat(timespec="milliseconds"),
        counter=process.next_number(),
        pid=process.pid,
        # Behind a proxy uvicorn knows the visitor's address (X-Forwarded-For) but not the port: it says 0.
        client=format_address(client.host, client.port) if client else "unknown",
        user_agent=request.headers.get("user-agent", ""),
        scheme=request.scope["scheme"],
        via="nginx" if came_through_nginx(request.scope) else "direct",
        name=name.strip()[:MAX_NAME_LENGTH],
        stored_views=views.total,
    )
    context = {"values": values, "moment": moment, "views": views, "unavailable": views.unavailable}
    response = render(request, DYNAMIC_TEMPLATE, context, database_ms=views.database_ms)
    response.headers["Cache-Control"] = MADE_FOR_THIS_REQUEST
    process.record_render(DYNAMIC_TEMPLATE, asdict(values), visitor=visitor_of(request.scope))
    return response


@router.get("/compare", response_class=HTMLResponse)
async def compare_page(request: Request, views: CountedView) -> Response:
    context = {"views": views, "unavailable": views.unavailable}
    return render(request, "compare.html", context, database_ms=views.database_ms)


@router.get("/log", response_class=HTMLResponse)
async def log_page(
    request: Request, views: CountedView, log: RequestLogDep, process: ProcessDep, settings: SettingsDep
) -> Response:
    entries = log.seen_by(visitor_of(request.scope), show_all=settings.show_all_visitors)
    context = {
        "entries": entries,
        "show_all": settings.show_all_visitors,
        "pid": process.pid,
        "views": views,
        "unavailable": views.unavailable,
    }
    return render(request, "log.html", context, database_ms=views.database_ms)


@router.get("/bench", response_class=HTMLResponse)
def bench_page(request: Request, views: CountedView, settings: SettingsDep) -> Response:
    # A plain def: reading the results from disk waits, so FastAPI runs it in a thread.
    run = latest_run(settings.bench_runs_dir, settings.bench_dir)
    context = {"run": run, "views": views, "unavailable": views.unavailable}
    return render(request, "bench.html", context, database_ms=views.database_ms)


async def _source_page(
    request: Request,
    sources: SourceFiles,
    folder: str,
    root: Path,
    path: str,
    last_render: Render | None,
) -> Response:
    try:
        source = await sources.read(root, path)
    except SourceNotFound:
        detail = translator(request)(N_("No such file in %(folder)s/ to show.")) % {"folder": folder}
        raise HTTPException(status_code=404, detail=detail) from None
    return render(
        request,
        "source.html",
        {
            "folder": folder,
            "path": path,
            "size": len(source.content),
            "sha256": source.sha256,
            "text": source.text,
            "hex_lines": None if source.text is not None else _hex_dump(source.content),
            "last_render": last_render,
            "translated": folder == "templates" and _has_translated_text(source.text),
        },
    )


@router.get("/source/static/{path:path}", response_class=HTMLResponse)
async def static_source(request: Request, path: str, settings: SettingsDep, sources: SourceFilesDep) -> Response:
    return await _source_page(request, sources, "static", settings.static_dir, path, last_render=None)


@router.get("/source/templates/{path:path}", response_class=HTMLResponse)
async def template_source(
    request: Request, path: str, settings: SettingsDep, process: ProcessDep, sources: SourceFilesDep
) -> Response:
    last_render = process.last_render(path)
    if last_render is not None and not (
        settings.show_all_visitors or same_visitor(visitor_of(request.scope), last_render.visitor)
    ):
        last_render = last_render.without(PERSONAL_VALUES)
    return await _source_page(request, sources, "templates", settings.templates_dir, path, last_render)


def _has_translated_text(template: str | None) -> bool:
    """Whether a template's source holds sentences the page shows translated: `_("…")` or `{% trans %}`."""
    return template is not None and ("_(" in template or "{% trans" in template)


def _hex_dump(content: bytes) -> list[str]:
    """Given binary content, return its first bytes as hexdump -C style lines."""
    lines = []
    for offset in range(0, min(len(content), HEX_DUMP_BYTES), 16):
        chunk = content[offset : offset + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        text_part = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<47}  |{text_part}|")
    return lines
