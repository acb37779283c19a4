"""JSON endpoints whose answers are made by server logic on each request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from webapp.deps import DatabaseDep, ProcessDep, RequestLogDep, SettingsDep
from webapp.errors import DATABASE_UNAVAILABLE_RESPONSE
from webapp.process import now
from webapp.requestlog import LoggedRequest
from webapp.visitors import visitor_of

# Headers whose values are secrets: /api/inspect shows that they came, not what they hold.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-proxy-secret"})
HIDDEN = "(hidden)"

router = APIRouter(prefix="/api", tags=["api"])


class Now(BaseModel):
    time: str  # ISO 8601 with milliseconds and the server's UTC offset
    counter: int
    pid: int


class Client(BaseModel):
    host: str
    port: int


class Inspection(BaseModel):
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    client: Client | None
    scheme: str
    http_version: str | None


class LoggedRequestOut(BaseModel):
    time: str
    method: str
    path: str
    query: str
    status: int
    bytes: int | None  # None for another visitor's request
    duration_ms: float
    kind: str  # "static" or "dynamic"
    client: str  # "" for another visitor's request
    yours: bool  # False: another visitor's, shown without address and query

    @classmethod
    def of(cls, entry: LoggedRequest) -> LoggedRequestOut:
        return cls(
            time=entry.time,
            method=entry.method,
            path=entry.path,
            query=entry.query,
            status=entry.status,
            bytes=None if entry.hidden else entry.bytes,
            duration_ms=entry.duration_ms,
            kind=entry.kind,
            client=entry.client_address,
            yours=not entry.hidden,
        )


class RecentRequests(BaseModel):
    pid: int
    capacity: int
    requests: list[LoggedRequestOut]


class Views(BaseModel):
    views: dict[str, int]


@router.get("/now")
async def current_time(process: ProcessDep) -> Now:
    """The server's time, this process's response counter and its pid: different on every call."""
    return Now(time=now().isoformat(timespec="milliseconds"), counter=process.next_number(), pid=process.pid)


@router.get("/inspect")
async def inspect_request(request: Request) -> Inspection:
    """The request as the application sees it, like httpbin's /anything."""
    client = request.client
    return Inspection(
        method=request.method,
        path=request.url.path,
        query={key: request.query_params.getlist(key) for key in request.query_params},
        headers={name: _shown_header(name, value) for name, value in dict(request.headers).items()},
        client=Client(host=client.host, port=client.port) if client else None,
        scheme=request.url.scheme,
        http_version=request.scope.get("http_version"),
    )


def _shown_header(name: str, value: str) -> str:
    """A header's value as /api/inspect shows it: secrets hidden, cookie names kept."""
    if name == "cookie":
        names = [pair.split("=", 1)[0].strip() for pair in value.split(";") if pair.strip()]
        return "; ".join(f"{cookie}={HIDDEN}" for cookie in names)
    if name in SECRET_HEADERS:
        scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
        return f"{scheme} {HIDDEN}" if scheme else HIDDEN
    return value


@router.get("/requests")
async def recent_requests(
    request: Request,
    log: RequestLogDep,
    process: ProcessDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many entries to return, newest first.")] = 100,
) -> RecentRequests:
    """The most recent requests this process answered, newest first: yours in full, other visitors'
    without their address and query string."""
    entries = log.seen_by(visitor_of(request.scope), limit, show_all=settings.show_all_visitors)
    return RecentRequests(pid=process.pid, capacity=log.size, requests=[LoggedRequestOut.of(e) for e in entries])


@router.get("/views", responses=DATABASE_UNAVAILABLE_RESPONSE)
async def page_views(database: DatabaseDep) -> Views:
    """How often each dynamic page was viewed, as stored in the database (all processes, all restarts)."""
    return Views(views=await database.view_totals())
