"""The site's templates, and the one way pages are rendered.

Each language has a Jinja environment of its own, and a template is compiled
once per language with that language's text already in it: `_("Home")` and
`{% trans %}…{% endtrans %}` become fixed text when the template is compiled,
instead of a catalogue lookup each time a page is rendered (a page has dozens).
Whatever varies, `{{ name }}` inside a `{% trans %}` say, is still filled in and
escaped on every render. An edited template, or an edited .po file, is compiled
again on the next request: that is why an edit shows on reload without a restart.
"""

from __future__ import annotations

import gettext
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import (
    Environment,
    FileSystemLoader,
    Template,
    TemplateAssertionError,
    TemplateSyntaxError,
    nodes,
    pass_context,
)
from jinja2.visitor import NodeTransformer
from markupsafe import Markup
from starlette.routing import NoMatchFound

from webapp import i18n
from webapp.links import Links, path_for
from webapp.site import site_of

GETTEXT_NAMES = ("_", "gettext")  # `_("…")` in templates; `gettext("…", name=…)` is what {% trans %} becomes


class TranslateConstantText(NodeTransformer):
    """In a parsed template, replace every translatable constant by its translation."""

    def __init__(self, translations: gettext.GNUTranslations) -> None:
        self.translations = translations

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name in GETTEXT_NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        # As Jinja's newstyle gettext does at run time: the translation is markup, the values are escaped.
        text = Markup(self.translations.gettext(node.args[0].value))
        if not node.kwargs:
            return nodes.MarkSafe(nodes.Const(text % {}), lineno=node.lineno)
        values = nodes.Dict([nodes.Pair(nodes.Const(keyword.key), keyword.value) for keyword in node.kwargs])
        return nodes.Mod(nodes.MarkSafe(nodes.Const(text)), values, lineno=node.lineno)


class UnknownRoute(TemplateAssertionError):
    """`url_for("name")` in a template, with a name no route of the site has: found when the template is compiled."""


class LinkFixedPaths(NodeTransformer):
    """In a parsed template, replace `url_for("name", param="value")` with constant arguments by its path.

    The path is looked up once, when the template is compiled; only the root path
    (empty unless the site is mounted under a prefix) is added on each render.
    """

    def __init__(self, links: Links) -> None:
        self.links = links

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name == "url_for"
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and all(isinstance(keyword.value, nodes.Const) for keyword in node.kwargs)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        params = {keyword.key: keyword.value.value for keyword in node.kwargs}  # type: ignore[attr-defined]
        try:
            path = self.links.path_for(node.args[0].value, **params)
        except NoMatchFound as error:
            raise UnknownRoute(str(error), node.lineno) from None
        return nodes.Add(nodes.Name("root_path", "load"), nodes.Const(path), lineno=node.lineno)


class TranslatedEnvironment(Environment):
    """A Jinja environment for one language: templates are compiled with its translations in them."""

    def __init__(
        self, language: str, translations: gettext.GNUTranslations, links: Links | None = None, **options: Any
    ) -> None:
        super().__init__(extensions=["jinja2.ext.i18n"], autoescape=True, **options)
        self.language = language
        self.translations = translations
        self.links = links
        # For what cannot be translated in advance: plurals, which depend on a number.
        self.install_gettext_callables(translations.gettext, translations.ngettext, newstyle=True)  # type: ignore[attr-defined]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # The step between parsing and compiling. Jinja keeps it private, so a test renders every page.
        template = super()._parse(source, name, filename)
        if self.links is not None:
            try:
                template = LinkFixedPaths(self.links).visit(template)
            except TemplateSyntaxError as error:  # Jinja's parser says which template; say it too
                error.name, error.filename = name, filename
                raise
        transformed: nodes.Template = TranslateConstantText(self.translations).visit(template)
        return transformed


class Templates:
    """The site's templates in every language, each environment made again when its catalogue changes."""

    def __init__(self, directory: Path, links: Links, catalogues: i18n.Catalogues) -> None:
        if not directory.is_dir():
            raise RuntimeError(f"Templates directory '{directory}' does not exist")
        self._loader = FileSystemLoader(directory)
        self._links = links
        self._catalogues = catalogues
        self._environments: dict[str, TranslatedEnvironment] = {}

    def get_template(self, language: str, name: str) -> Template:
        translations = self._catalogues.get(language)
        environment = self._environments.get(language)
        if environment is None or environment.translations is not translations:
            # A new environment rather than a cleared one: a page being rendered meanwhile keeps the old.
            environment = self._environments[language] = self._environment(language, translations)
        return environment.get_template(name)

    def _environment(self, language: str, translations: gettext.GNUTranslations) -> TranslatedEnvironment:
        environment = TranslatedEnvironment(language, translations, self._links, loader=self._loader)

        def number(value: float) -> str:
            return i18n.format_number_for(value, language)

        def datetime(moment: Any, format: str = "medium") -> str:
            return i18n.format_datetime_for(moment, format, language)

        environment.globals.update(
            url_for=_url_for, asset_url=_asset_url, language_names=i18n.LANGUAGE_NAMES, lang=language
        )
        environment.filters.update(number=number, datetime=datetime)
        return environment


@pass_context
def _url_for(context: Mapping[str, Any], name: str, /, **params: str) -> str:
    """Starlette's url_for, with the same name and arguments, returning a path (for a value known only
    when rendering: with fixed values it never runs, LinkFixedPaths put the path in when compiling)."""
    return path_for(context["request"], name, **params)


@pass_context
def _asset_url(context: Mapping[str, Any], path: str, /) -> str:
    """The path of a static file under its fingerprinted name (`/static/stamp.1a2b3c4d5e.svg`): browsers
    keep it a year, and an edit gives it a new name (fingerprints.py)."""
    request: Request = context["request"]
    return path_for(request, "static", path=site_of(request.app).fingerprints.name_for(path))


def _page_context(request: Request, choice: i18n.LanguageChoice) -> dict[str, Any]:
    return {
        "request": request,
        "root_path": request.scope.get("root_path", ""),
        "lang_how": choice.how,
        "language_paths": _language_paths(request),
        "page_origin": _origin(request),
    }


def _origin(request: Request) -> str:
    """Scheme and host of the address the visitor used: `http://127.0.0.1:8000`."""
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is not None:
        return f"{scope['scheme']}://{host.decode('latin-1')}"
    return f"{request.url.scheme}://{request.url.netloc}"  # HTTP/1.0 without Host: the server's own address


def _language_paths(request: Request) -> dict[str, str]:
    """This page in each language: its path with ?lang= set and the other parameters kept."""
    path = quote(request.scope.get("root_path", "") + request.scope["path"])
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "lang"]
    return {code: f"{path}?{urlencode([*kept, ('lang', code)])}" for code in i18n.LANGUAGES}


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    database_ms: float | None = None,
    shared: bool = False,
) -> Response:
    """Render a page in the visitor's language; remember a language picked with ?lang=.

    `database_ms`: the time the page waited for the database, said in Server-Timing
    next to the render time (the browser's developer tools show both).
    `shared`: a page a shared cache may give to everyone who asks for the same address.
    Its language comes from the address alone (?lang=), never from a cookie or a header
    of this visitor's, and it sets no cookie.
    """
    started = time.perf_counter()
    choice = i18n.language_in_address(request) if shared else i18n.choose_language(request)
    template = site_of(request.app).templates.get_template(choice.code, name)
    content = template.render({**(context or {}), **_page_context(request, choice)})
    response = HTMLResponse(content, status_code=status_code, headers=headers)
    timings = [] if database_ms is None else [f'db;dur={database_ms:.2f};desc="database"']
    timings.append(f'render;dur={(time.perf_counter() - started) * 1000:.2f};desc="Jinja render"')
    response.headers["Server-Timing"] = ", ".join(timings)
    if shared:
        return response
    # The same URL answers in Korean or English depending on these headers.
    response.headers["Vary"] = "Accept-Language, Cookie"
    picked = request.query_params.get("lang", "").lower()
    if picked in i18n.LANGUAGES and request.cookies.get(i18n.COOKIE_NAME) != picked:
        # Secure over HTTPS: the browser then never sends it back over plain HTTP.
        secure = request.url.scheme == "https"
        response.set_cookie(i18n.COOKIE_NAME, picked, max_age=i18n.COOKIE_MAX_AGE, samesite="lax", secure=secure)
    return response
