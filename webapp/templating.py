"""The Jinja environment shared by every page, and the one way pages are rendered."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from webapp import i18n
from webapp.links import Links
from webapp.site import site_of


def _language_context(request: Request) -> dict[str, Any]:
    choice = i18n.choose_language(request)
    translations = site_of(request.app).catalogues.get(choice.code)
    translate = i18n.plain_gettext(translations)
    return {
        "lang": choice.code,
        "lang_how": choice.how,
        "translations": translations,
        "_": translate,
        "gettext": translate,
        "language_paths": _language_paths(request),
        "page_origin": f"{request.url.scheme}://{request.url.netloc}",
    }


def _language_paths(request: Request) -> dict[str, str]:
    """This page in each language: its path with ?lang= set and the other parameters kept."""
    path = quote(request.scope.get("root_path", "") + request.scope["path"])
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "lang"]
    return {code: f"{path}?{urlencode([*kept, ('lang', code)])}" for code in i18n.LANGUAGES}


def create_templates(directory: Path, links: Links) -> Jinja2Templates:
    # Starlette's environment escapes HTML in every .html template and, like
    # any Jinja environment, re-reads a template whose file changed on disk:
    # that is why a template edit shows on the next reload without a restart.
    if not directory.is_dir():
        raise RuntimeError(f"Templates directory '{directory}' does not exist")
    templates = Jinja2Templates(directory=directory, context_processors=[_language_context])

    @pass_context
    def url_for(context: Mapping[str, Any], name: str, /, **params: str) -> str:
        """Starlette's url_for, with the same name and arguments, returning a path looked up once."""
        root_path: str = context["request"].scope.get("root_path", "")
        return root_path + links.path_for(name, **params)

    templates.env.globals["url_for"] = url_for
    i18n.install(templates.env)
    return templates


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    database_ms: float | None = None,
) -> Response:
    """Render a page in the visitor's language; remember a language picked with ?lang=.

    `database_ms`: the time the page waited for the database, said in Server-Timing
    next to the render time (the browser's developer tools show both).
    """
    started = time.perf_counter()
    response = site_of(request.app).templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status_code, headers=headers
    )
    timings = [] if database_ms is None else [f'db;dur={database_ms:.2f};desc="database"']
    timings.append(f'render;dur={(time.perf_counter() - started) * 1000:.2f};desc="Jinja render"')
    response.headers["Server-Timing"] = ", ".join(timings)
    # The same URL answers in Korean or English depending on this header.
    response.headers["Vary"] = "Accept-Language, Cookie"
    picked = request.query_params.get("lang", "").lower()
    if picked in i18n.LANGUAGES and request.cookies.get(i18n.COOKIE_NAME) != picked:
        response.set_cookie(i18n.COOKIE_NAME, picked, max_age=i18n.COOKIE_MAX_AGE, samesite="lax")
    return response
