"""An exception no handler took, most often from the learner's own code: never a bare "Internal Server Error".

The lesson's loop is to change what `test()` returns, save and reload /ping. A value FastAPI cannot turn
into JSON (`return object()`) or code that raises (`return 1 / 0`) then stops the request. In development
(the owner, at this machine, asking the server directly) the 500 says what happened and where, in the
request's language: the exception, or the value that is not JSON, and the file and line in the project
(webapp/main.py, line 37; a template's own line for a mistake in templates/). A JSON route answers
{"detail": "..."}, so /ping still answers JSON; a page answers with a small page, made here, not from
templates/ (the broken template may be the one every page extends), with nothing the site's Content
Security Policy forbids.

Anyone else (a stranger, a client from another address, anyone through the stack) gets the site's 500 page,
the one nginx sends, or for a JSON route one generic sentence: no file name, no message, no traceback.

The terminal gets the traceback once, as uvicorn writes it, with where and what in its first line: the site
writes a repeated error once per 10 s (logs.py, by its first line), so a second, different mistake is
written at once and the same one reloaded is not.
"""

from __future__ import annotations

import dis
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType

import anyio
from fastapi.datastructures import DefaultPlaceholder
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute, serialize_response
from jinja2 import TemplateError
from starlette.requests import Request
from starlette.routing import Router
from starlette.types import Scope

from webapp.caching import MADE_FOR_THIS_REQUEST
from webapp.i18n import N_, choose_language
from webapp.site import site_of
from webapp.templateerrors import TITLE as TEMPLATE_TITLE
from webapp.templateerrors import problem_of, template_of
from webapp.terminal import system_language
from webapp.visitors import is_owner

# Where uvicorn writes an exception no handler took: the learner's terminal.
TERMINAL_LOGGER = logging.getLogger("uvicorn.error")
UVICORN_EXCEPTION_LINE = "Exception in ASGI application"
ERROR_PAGE = Path("errors") / "500.html"  # under static/: the page nginx sends for a 500 too
WEBAPP_DIR = Path(__file__).resolve().parent
MAX_ERROR_CHARS = 300  # of an exception's message: a learner's 10 MB string stays in the terminal
NO_STORE = {"cache-control": MADE_FOR_THIS_REQUEST}

TITLE = N_("Error while answering this request")
RAISED_IN = N_("%(function)s() at %(file)s, line %(line)s, raised %(error)s.")
RAISED_AT = N_("An exception was raised at %(file)s, line %(line)s: %(error)s.")
RAISED = N_("An exception was raised: %(error)s.")
NOT_JSON = N_(
    "%(function)s() at %(file)s, line %(line)s, returned a value FastAPI cannot turn into JSON: %(kind)s. "
    "Return only what JSON can carry: a dict, a list, a string, a number, True, False or None, and the same inside."
)
NOT_ITS_TYPE = N_(
    "%(function)s() at %(file)s, line %(line)s, returned a value that does not match its return type: %(problem)s."
)
SEE_TERMINAL = N_("The terminal that runs uvicorn shows the full traceback.")
ONLY_YOU = N_(
    "Only you see this page, because you asked this server directly from this computer. "
    "Anyone else gets the site's error page, which names no file."
)
FOR_ANYONE = N_("The server ran into an error and could not complete the request. Please try again shortly.")

# The frames in which FastAPI turns a route's return value into a response: an exception raised there, with no
# frame of the project after them, is about the value returned. jsonable_encoder raises ValueError([TypeError,
# TypeError]) for a value it knows no way to convert (`return object()`), the innermost call holding that value;
# JSONResponse.render raises ValueError for NaN or infinity, UnicodeEncodeError for a lone surrogate.
SERIALISING = (serialize_response.__code__, JSONResponse.render.__code__)
ENCODING = jsonable_encoder.__code__
# The site's middleware passes each request on to the router: past it, the route and what the route calls.
ROUTING = Router.__call__.__code__
RETURNS = ("RETURN_VALUE", "RETURN_CONST")  # RETURN_CONST since Python 3.12


@dataclass(frozen=True)
class CodeProblem:
    """What went wrong, for people: a catalogue message (English) and its values; say it with a gettext."""

    message: str
    values: dict[str, object] = field(default_factory=dict)

    def said(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.message) % self.values


async def server_error_response(scope: Scope, error: Exception) -> Response:
    """Given an HTTP request's scope and the exception no handler took, write the traceback to the terminal once
    and return the 500 for whoever asked."""
    request = Request(scope)
    site = site_of(request.app)
    error = innermost(error)
    for_owner = is_owner(scope) and not site.settings.proxy_secret
    gettext = site.catalogues.get(choose_language(request).code).gettext
    if isinstance(error, TemplateError):
        template_problem = problem_of(error, site.settings.templates_dir)
        log(template_problem.log_line, error)
        if for_owner:
            return owner_page(request, gettext, TEMPLATE_TITLE, template_problem.owner_html(gettext))
        return await error_page(site.settings.static_dir)
    problem = code_problem(error, scope, site.settings.templates_dir)
    log(problem.said(site.catalogues.get(system_language()).gettext), error)
    if answers_json(scope):
        detail = f"{problem.said(gettext)} {gettext(SEE_TERMINAL)}" if for_owner else gettext(FOR_ANYONE)
        return JSONResponse({"detail": detail}, status_code=500, headers=NO_STORE)
    if for_owner:
        what, terminal = html.escape(problem.said(gettext)), html.escape(gettext(SEE_TERMINAL))
        return owner_page(request, gettext, TITLE, f'<p id="error-what">{what}</p>\n<p>{terminal}</p>\n')
    return await error_page(site.settings.static_dir)


def innermost(error: Exception) -> Exception:
    """The one exception inside groups of one (a task group wraps what its task raised)."""
    while isinstance(error, ExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def answers_json(scope: Scope) -> bool:
    """Whether the request went to a JSON route. Decided by the route, not by Accept: a browser that opens /ping
    asks for text/html first, and the lesson's /ping must still answer JSON. The routes the API document (/docs)
    lists answer JSON (the lesson's /ping, /api/..., and a route the learner adds beside test()); the site's pages
    leave themselves out of it (include_in_schema=False) or say HTMLResponse."""
    route = scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return False
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    return not (isinstance(response_class, type) and issubclass(response_class, HTMLResponse))


def code_problem(error: Exception, scope: Scope, templates_dir: Path) -> CodeProblem:
    """Given an exception and its request's scope, say what happened and where in the project."""
    frames = walk(error)
    endpoint = getattr(scope.get("endpoint"), "__code__", None)
    if isinstance(endpoint, CodeType):
        returned = {
            "function": endpoint.co_name,
            "file": shown_path(endpoint.co_filename),
            "line": return_line(endpoint),
        }
        if isinstance(error, ResponseValidationError):
            problems = error.errors()
            first = str(problems[0].get("msg", "")) if problems else error_text(error)
            return CodeProblem(NOT_ITS_TYPE, {**returned, "problem": cut(first)})
        serialising = [index for index, (frame, _) in enumerate(frames) if frame.f_code in SERIALISING]
        if serialising and not any(in_project(frame, templates_dir) for frame, _ in frames[serialising[-1] :]):
            encoding = [frame for frame, _ in frames[serialising[-1] :] if frame.f_code is ENCODING]
            kind = type(encoding[-1].f_locals.get("obj")).__qualname__ if encoding else error_text(error)
            return CodeProblem(NOT_JSON, {**returned, "kind": kind})
    text = error_text(error)
    routed = [index for index, (frame, _) in enumerate(frames) if frame.f_code is ROUTING]
    # Once routed, a frame of the site's middleware only waits for the route: never the place to look.
    for frame, line in reversed(frames[routed[0] + 1 :] if routed else frames):
        if template := template_of(frame.f_code.co_filename, frame.f_globals, templates_dir):
            return CodeProblem(RAISED_AT, {"file": f"templates/{template}", "line": line, "error": text})
        if in_project(frame, templates_dir):
            where = {"file": shown_path(frame.f_code.co_filename), "line": line}
            return CodeProblem(RAISED_IN, {"function": frame.f_code.co_name, **where, "error": text})
    return CodeProblem(RAISED, {"error": text})


def walk(error: BaseException) -> list[tuple[FrameType, int]]:
    frames = []
    traceback = error.__traceback__
    while traceback is not None:
        frames.append((traceback.tb_frame, traceback.tb_lineno))
        traceback = traceback.tb_next
    return frames


def in_project(frame: FrameType, templates_dir: Path) -> bool:
    """Whether a frame runs the site's own code (webapp/) or one of its templates."""
    if template_of(frame.f_code.co_filename, frame.f_globals, templates_dir):
        return True
    return Path(frame.f_code.co_filename).resolve().is_relative_to(WEBAPP_DIR)


def shown_path(filename: str) -> str:
    """A file of the project as the learner knows it (webapp/main.py); any other as Python names it."""
    path = Path(filename).resolve()
    return path.relative_to(WEBAPP_DIR.parent).as_posix() if path.is_relative_to(WEBAPP_DIR) else filename


def return_line(code: CodeType) -> int:
    """The line of a function's return statement when it has one (the lesson's test() has), else of its start."""
    lines = {
        instruction.positions.lineno
        for instruction in dis.get_instructions(code)
        if instruction.opname in RETURNS and instruction.positions and instruction.positions.lineno
    }
    return lines.pop() if len(lines) == 1 else code.co_firstlineno


def error_text(error: BaseException) -> str:
    """Python's own last line of a traceback (`ZeroDivisionError: division by zero`), on one line, cut short."""
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        message = str(error)
    except Exception:  # the learner's own exception class may fail even at this
        message = ""
    return cut(f"{name}: {message}" if message else name)


def cut(text: str) -> str:
    one_line = " ".join(text[: MAX_ERROR_CHARS * 4].split())
    return one_line if len(one_line) <= MAX_ERROR_CHARS else one_line[: MAX_ERROR_CHARS - 1] + "…"


def log(what: str, error: BaseException) -> None:
    """uvicorn's own first line, with where and what after it, then the traceback."""
    line = f"{UVICORN_EXCEPTION_LINE}: {what}".replace("\n", " ")
    TERMINAL_LOGGER.error(line + "\n", exc_info=error)


def owner_page(request: Request, gettext: Callable[[str], str], title: str, body: str) -> HTMLResponse:
    """A page, made without templates/, with `body` (HTML, its text already escaped) in the page's language."""
    language = choose_language(request).code
    stylesheet = html.escape(request.scope.get("root_path", "") + "/static/style.css", quote=True)
    page = f"""<!doctype html>
<html lang="{language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(gettext(title))}</title>
<link rel="stylesheet" href="{stylesheet}">
</head>
<body>
<main>
<h1>{html.escape(gettext(title))}</h1>
{body}<p>{html.escape(gettext(ONLY_YOU))}</p>
</main>
</body>
</html>
"""
    return HTMLResponse(page, status_code=500, headers=NO_STORE)


async def error_page(static_dir: Path) -> Response:
    """The site's 500 page (static/errors/500.html, the page nginx sends), kept by nobody."""
    try:
        page = await anyio.Path(static_dir, ERROR_PAGE).read_bytes()
    except OSError:  # the fault may be the disk's: say it without the page
        return PlainTextResponse("Internal Server Error", status_code=500, headers=NO_STORE)
    return HTMLResponse(page, status_code=500, headers=NO_STORE)
