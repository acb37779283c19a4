"""What handlers use, as typed dependencies, so each handler's signature says what it needs.

The getters are `async def` on purpose: they only look an object up, and
FastAPI would run a plain `def` dependency in the thread pool.
Tests replace any of them with `app.dependency_overrides[get_database] = ...`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from webapp.process import ProcessInfo
from webapp.ratelimit import PostLimiter
from webapp.requestlog import RequestLog
from webapp.settings import Settings
from webapp.site import site_of
from webapp.sources import SourceFiles
from webapp.storage import CAUSE_SENTENCES, Cause, DatabaseUnavailable, Storage


async def get_settings(request: Request) -> Settings:
    return site_of(request.app).settings


async def get_database(request: Request) -> Storage:
    return site_of(request.app).database


async def get_process(request: Request) -> ProcessInfo:
    return site_of(request.app).process


async def get_request_log(request: Request) -> RequestLog:
    return site_of(request.app).request_log


async def get_source_files(request: Request) -> SourceFiles:
    return site_of(request.app).source_files


async def get_post_limiter(request: Request) -> PostLimiter:
    return site_of(request.app).post_limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Storage, Depends(get_database)]
ProcessDep = Annotated[ProcessInfo, Depends(get_process)]
RequestLogDep = Annotated[RequestLog, Depends(get_request_log)]
SourceFilesDep = Annotated[SourceFiles, Depends(get_source_files)]
PostLimiterDep = Annotated[PostLimiter, Depends(get_post_limiter)]


@dataclass(frozen=True)
class PageViews:
    total: int | None  # views of this page stored in the database, this one included; None: no database
    database_ms: float  # how long counting took, in milliseconds, for Server-Timing
    cause: Cause | None = None  # why there is no total, when counting failed: the notice on the page says it

    @property
    def unavailable(self) -> bool:
        return self.total is None

    @property
    def cause_sentence(self) -> str | None:
        """Why counting failed and what to check, as a catalogue message the notice translates."""
        return None if self.cause is None else CAUSE_SENTENCES[self.cause]


async def count_page_view(request: Request, database: DatabaseDep) -> PageViews:
    """Count this view of the page, under its route's path, in the database."""
    started = time.perf_counter()
    cause = None
    try:
        total: int | None = await database.count_view(request.scope["route"].path)
    except DatabaseUnavailable as error:
        total, cause = None, error.cause
    return PageViews(total, (time.perf_counter() - started) * 1000, cause)


CountedView = Annotated[PageViews, Depends(count_page_view)]
