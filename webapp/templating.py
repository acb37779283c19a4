"""The Jinja environment shared by every page, and the one way pages are rendered."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from webapp import i18n
from webapp.site import site_of


def _language_context(request: Request) -> dict[str, Any]:
    choice = i18n.choose_language(request)
    return {
        "lang": choice.code,
        "lang_how": choice.how,
        "translations": site_of(request.app).catalogues.get(choice.code),
    }


def create_templates(directory: Path) -> Jinja2Templates:
    # Starlette's environment escapes HTML in every .html template and, like
    # any Jinja environment, re-reads a template whose file changed on disk:
    # that is why a template edit shows on the next reload without a restart.
    if not directory.is_dir():
        raise RuntimeError(f"Templates directory '{directory}' does not exist")
    templates = Jinja2Templates(directory=directory, context_processors=[_language_context])
    i18n.install(templates.env)
    return templates


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a page in the visitor's language; remember a language picked with ?lang=."""
    response = site_of(request.app).templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status_code, headers=headers
    )
    # The same URL answers in Korean or English depending on this header.
    response.headers["Vary"] = "Accept-Language, Cookie"
    picked = request.query_params.get("lang", "").lower()
    if picked in i18n.LANGUAGES and request.cookies.get(i18n.COOKIE_NAME) != picked:
        response.set_cookie(i18n.COOKIE_NAME, picked, max_age=i18n.COOKIE_MAX_AGE, samesite="lax")
    return response
