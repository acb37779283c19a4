"""What the JSON API answers when something is wrong, in the language the pages would choose.

The database down: a 503 with one sentence (storage code raises DatabaseUnavailable
and speaks no HTTP; pages catch it themselves and render with a notice instead).
An invalid request: a 422 that says what is wrong with each part, never the value sent.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from webapp.i18n import N_, choose_language
from webapp.site import site_of
from webapp.storage import DatabaseUnavailable


class TranslatableProblem(ValueError):
    """An input's problem raised in a validator: a catalogue message and its values, so that the page and the
    JSON API can each say it in the visitor's language. As a plain exception it reads in English."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values)
        self.message, self.values = message, values

    def in_language(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.message) % self.values


DATABASE_UNAVAILABLE = N_("The database is unavailable right now, so nothing was read or stored. Try again shortly.")
# For the OpenAPI document of each route that needs the database.
DATABASE_UNAVAILABLE_RESPONSE: dict[int | str, dict[str, Any]] = {503: {"description": "The database is unavailable"}}


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": translator(request)(DATABASE_UNAVAILABLE)}, status_code=503)


# pydantic's messages for the problems the site's inputs can have, as the catalogues know them: the
# English is pydantic's own, word for word, so only the language changes, never what a program reads.
PROBLEM_MESSAGES = {
    "missing": N_("Field required"),
    "string_type": N_("Input should be a valid string"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_type": N_("Input should be a valid integer"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "json_invalid": N_("JSON decode error"),
    "model_attributes_type": N_("Input should be a valid dictionary or object to extract fields from"),
}


def translator(request: Request) -> Callable[[str], str]:
    """Given a request, return its language's gettext, chosen as the pages choose (?lang=, cookie, Accept-Language)."""
    return site_of(request.app).catalogues.get(choose_language(request).code).gettext


def problem_message(problem: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    """Given one of pydantic's problems, return its `msg` in the request's language (pydantic's own when unknown)."""
    raised = problem.get("ctx", {}).get("error")
    if isinstance(raised, TranslatableProblem):
        return raised.in_language(gettext)
    message = PROBLEM_MESSAGES.get(problem["type"])
    if message is None:
        return str(problem["msg"])
    return gettext(message) % {key: _encodable(value) for key, value in problem.get("ctx", {}).items()}


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with what is wrong with each part of the request: where and why, never the value sent.
    `type` stays pydantic's, for programs; `msg` is in the request's language, for people.

    FastAPI's own handler echoes each value, and some values JSON cannot encode
    (NaN, 1e999 parsed as infinity, a lone surrogate such as "\\ud800"): the 422
    itself then failed with a 500 and a traceback in the log.
    """
    gettext = translator(request)
    problems = [
        {
            "type": problem["type"],
            "loc": [_encodable(part) for part in problem["loc"]],
            "msg": _encodable(problem_message(problem, gettext)),
        }
        for problem in error.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def _encodable(value: object) -> object:
    """A location part or message as JSON can carry it: numbers as they are, text with lone surrogates escaped."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


# FastAPI's own 400 for a JSON body that json cannot even read (its syntax errors are json_invalid 422s instead).
FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"
# What made it unreadable, the first that matches (UnicodeDecodeError is a ValueError too).
UNREADABLE_BODY_CAUSES: list[tuple[type[BaseException], str]] = [
    (UnicodeDecodeError, N_("The body could not be read as JSON: it is not valid UTF-8.")),
    (RecursionError, N_("The body could not be read as JSON: it is nested too deeply.")),
    # Python refuses to turn more than 4,300 digits into an int (its guard against quadratic-time conversion).
    (ValueError, N_("The body could not be read as JSON: a number in it has too many digits.")),
]
UNREADABLE_BODY = N_("The body could not be read as JSON.")


def unreadable_body_sentence(cause: BaseException | None) -> str:
    for kind, sentence in UNREADABLE_BODY_CAUSES:
        # Only the digits guard's ValueError ("Exceeds the limit (4300 digits) ...") is about digits.
        if isinstance(cause, kind) and (kind is not ValueError or "digits" in str(cause)):
            return sentence
    return UNREADABLE_BODY


async def http_error(request: Request, error: HTTPException) -> Response:
    """FastAPI's own answer; the one English detail FastAPI writes itself is said in the request's language."""
    if error.status_code == 400 and error.detail == FASTAPI_UNREADABLE_BODY:
        detail = translator(request)(unreadable_body_sentence(error.__cause__))
        error = HTTPException(400, detail, headers=error.headers)
    return await http_exception_handler(request, error)


ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
# Any other exception (a template that cannot be rendered, the learner's own code): servererrors.py, called from
# headers.py, so that its 500 carries the site's headers.
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    DatabaseUnavailable: database_unavailable,
    RequestValidationError: invalid_request,
    HTTPException: http_error,
}
