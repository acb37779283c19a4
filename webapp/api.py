"""JSON endpoints whose answers are made by server logic on each request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from webapp.database import UNAVAILABLE, UNAVAILABLE_RESPONSE, DatabaseUnavailable
from webapp.process import ProcessInfo, now
from webapp.requestlog import RequestLog

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/now")
def current_time(request: Request) -> dict[str, Any]:
    """The server's time, this process's response counter and its pid: different on every call."""
    process: ProcessInfo = request.app.state.process
    return {
        "time": now().isoformat(timespec="milliseconds"),
        "counter": process.next_number(),
        "pid": process.pid,
    }


@router.get("/inspect")
def inspect_request(request: Request) -> dict[str, Any]:
    """The request as the application sees it, like httpbin's /anything."""
    client = request.client
    return {
        "method": request.method,
        "path": request.url.path,
        "query": {key: request.query_params.getlist(key) for key in request.query_params},
        "headers": dict(request.headers),
        "client": {"host": client.host, "port": client.port} if client else None,
        "scheme": request.url.scheme,
        "http_version": request.scope.get("http_version"),
    }


@router.get("/requests")
def recent_requests(
    request: Request,
    limit: int = Query(100, ge=1, le=1000, description="How many entries to return, newest first."),
) -> dict[str, Any]:
    """The most recent requests this process answered, newest first."""
    log: RequestLog = request.app.state.request_log
    return {
        "pid": request.app.state.process.pid,
        "capacity": log.size,
        "requests": [entry.as_dict() for entry in log.recent(limit)],
    }


@router.get("/views", responses=UNAVAILABLE_RESPONSE)
def page_views(request: Request) -> dict[str, dict[str, int]]:
    """How often each dynamic page was viewed, as stored in the database (all processes, all restarts)."""
    try:
        return {"views": request.app.state.database.view_totals()}
    except DatabaseUnavailable:
        raise HTTPException(status_code=503, detail=UNAVAILABLE) from None
