"""The steps between a static file and a page made on every request: /spectrum, and the one page nginx may cache.

/dynamic/shared is /dynamic made for everyone: it shows nothing about who asked
(no address, no browser) and takes its language from the address alone, so a
shared cache may give the same bytes to everyone who asks for the same address.
The stack's nginx keeps it for a second (micro-caching); /dynamic itself, and
every page with your cookie's language, a form or your data, is never kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from webapp.caching import FINGERPRINTED, SHARED_PAGE, SHARED_SECONDS
from webapp.deps import CountedView, ProcessDep, SettingsDep
from webapp.i18n import DEFAULT_LANGUAGE, choose_language
from webapp.pages import MAX_NAME_LENGTH
from webapp.process import now
from webapp.templating import render
from webapp.visitors import came_through_nginx, visitor_of

router = APIRouter(include_in_schema=False)

SHARED_TEMPLATE = "shared.html"
PRERENDERED_FOLDER = "prerendered"  # under static/: where `python -m tools.prerender` writes
PRERENDERED_PATH = "/dynamic"  # the page it renders unless told otherwise
FINGERPRINT_DEMO = "stamp.svg"
# The attribute of `request.state` that says a page is being made into a file (see Prerendering).
PRERENDERING_STATE = "prerendering"


@dataclass(frozen=True)
class SharedValues:
    """What /dynamic/shared works out for each request it is asked to make: nothing about the visitor."""

    time: str
    counter: int
    pid: int
    via: str  # "nginx" or "direct"
    name: str  # from the address: part of what a shared cache keys on
    stored_views: int | None


@dataclass(frozen=True)
class Prerendered:
    """The pre-rendered copy of /dynamic in one language: where it is served, and when it was built."""

    path: str  # under static/: "prerendered/dynamic.html"
    built: datetime | None  # None: not built yet


@dataclass(frozen=True)
class Prerendering:
    """What a page needs to say that it is being made into a file, not answered to a visitor.

    Only the pre-render command sets it, as `request.state.prerendering`: it calls the app in its own
    process with a scope it builds. A visitor's request comes through uvicorn, which starts every
    request's state empty (the site's start-up keeps nothing there), and nothing a visitor sends, a
    header, the address or a cookie, can put anything in it.
    """

    at: datetime  # when the command rendered the page
    command: str  # the command that did: "python -m tools.prerender"
    language_paths: Mapping[str, str]  # the file in each language, root-relative: /static/prerendered/en/dynamic.html


def prerendered_file(path: str, language: str) -> str:
    """Given a site path and a language, return where its pre-rendered page goes inside PRERENDERED_FOLDER:
    `dynamic.html` in Korean, `en/dynamic.html` in English, as static/index.html and static/en/index.html."""
    name = f"{path.lstrip('/')}.html"
    return name if language == DEFAULT_LANGUAGE else f"{language}/{name}"


@router.get("/dynamic/shared", response_class=HTMLResponse)
async def shared_page(request: Request, views: CountedView, process: ProcessDep, name: str = "") -> Response:
    moment = now()
    values = SharedValues(
        time=moment.isoformat(timespec="milliseconds"),
        counter=process.next_number(),
        pid=process.pid,
        via="nginx" if came_through_nginx(request.scope) else "direct",
        name=name.strip()[:MAX_NAME_LENGTH],
        stored_views=views.total,
    )
    context = {
        "values": values,
        "moment": moment,
        "seconds": SHARED_SECONDS,
        "views": views,
        "unavailable": views.unavailable,
    }
    response = render(request, SHARED_TEMPLATE, context, database_ms=views.database_ms, shared=True)
    response.headers["Cache-Control"] = SHARED_PAGE
    process.record_render(SHARED_TEMPLATE, asdict(values), visitor=visitor_of(request.scope))
    return response


@router.get("/spectrum", response_class=HTMLResponse)
async def spectrum_page(request: Request, views: CountedView, settings: SettingsDep) -> Response:
    page = f"{PRERENDERED_FOLDER}/{prerendered_file(PRERENDERED_PATH, choose_language(request).code)}"
    try:
        built: datetime | None = datetime.fromtimestamp((settings.static_dir / page).stat().st_mtime).astimezone()
    except OSError:
        built = None
    context = {
        "through_nginx": came_through_nginx(request.scope),
        "prerendered": Prerendered(page, built),
        "fingerprint_demo": FINGERPRINT_DEMO,
        # What this page's own files are sent with, for its table of how each came.
        "policies": {"immutable": FINGERPRINTED, "static": settings.static_cache_control},
        "shared_seconds": SHARED_SECONDS,
        "views": views,
        "unavailable": views.unavailable,
    }
    return render(request, "spectrum.html", context, database_ms=views.database_ms)
