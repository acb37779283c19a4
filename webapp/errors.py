"""What the JSON API answers when the database is down: one handler, one sentence.

Storage code raises DatabaseUnavailable and speaks no HTTP; pages catch it
themselves and render with a notice instead.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from webapp.database import DatabaseUnavailable

DATABASE_UNAVAILABLE = "The database is unavailable right now, so nothing was read or stored. Try again shortly."
# For the OpenAPI document of each route that needs the database.
DATABASE_UNAVAILABLE_RESPONSE: dict[int | str, dict[str, Any]] = {503: {"description": "The database is unavailable"}}


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": DATABASE_UNAVAILABLE}, status_code=503)


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with what is wrong with each part of the request: where and why, never the value sent.

    FastAPI's own handler echoes each value, and some values JSON cannot encode
    (NaN, 1e999 parsed as infinity, a lone surrogate such as "\\ud800"): the 422
    itself then failed with a 500 and a traceback in the log.
    """
    problems = [
        {
            "type": problem["type"],
            "loc": [_encodable(part) for part in problem["loc"]],
            "msg": _encodable(problem["msg"]),
        }
        for problem in error.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def _encodable(value: object) -> object:
    """A location part or message as JSON can carry it: numbers as they are, text with lone surrogates escaped."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    DatabaseUnavailable: database_unavailable,
    RequestValidationError: invalid_request,
}
