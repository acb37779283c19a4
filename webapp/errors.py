"""What the JSON API answers when the database is down: one handler, one sentence.

Storage code raises DatabaseUnavailable and speaks no HTTP; pages catch it
themselves and render with a notice instead.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from webapp.database import DatabaseUnavailable

DATABASE_UNAVAILABLE = "The database is unavailable right now, so nothing was read or stored. Try again shortly."
# For the OpenAPI document of each route that needs the database.
DATABASE_UNAVAILABLE_RESPONSE: dict[int | str, dict[str, Any]] = {503: {"description": "The database is unavailable"}}


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": DATABASE_UNAVAILABLE}, status_code=503)


ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {DatabaseUnavailable: database_unavailable}
