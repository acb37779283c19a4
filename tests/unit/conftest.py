"""Unit tests: the app in this process, through Starlette's TestClient, over private copies of its folders."""

from __future__ import annotations

import gettext
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from types import CodeType
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from webapp import i18n
from webapp.i18n import compile_catalogue
from webapp.main import create_app
from webapp.paths import STATIC_DIR, TEMPLATES_DIR
from webapp.settings import Settings
from webapp.templating import LinkFixedPaths, TranslateConstantText, TranslatedEnvironment

# Every app compiles both .po files as it starts, a third of building one; the tests build hundreds of apps
# from the same files. So while `make_client` builds an app, a catalogue compiled from the same bytes before is
# given again. What a test changes later (a catalogue edited on disk) is compiled as the site itself would.
_compiled_catalogues: dict[tuple[str, bytes], gettext.GNUTranslations] = {}


def _compile_catalogue_once(po_path: Path, language: str) -> gettext.GNUTranslations:
    key = (language, po_path.read_bytes())
    if key in _compiled_catalogues:
        return _compiled_catalogues[key]
    catalogue = compile_catalogue(po_path, language)
    if po_path.read_bytes() == key[1]:  # not rewritten while it was compiled
        _compiled_catalogues[key] = catalogue
    return catalogue


# Each app compiles its templates again, in each language: a fifth of the unit tests' time. An app that
# `make_client` built, with the catalogues above, is given the code compiled before from the same template
# source, in the same language with the same catalogue, through the same steps (a test that changes a step, as
# test_templating does, gets its own compile). The links compiling looked up are looked up again, in the same
# order, so the app's router is walked as if it had compiled, and a link that now leads elsewhere compiles anew.
Walk = tuple[str, dict[str, str], str]  # a route's name, its parameters, the path found
_compiled_templates: dict[tuple[Any, ...], tuple[CodeType, list[Walk]]] = {}
_compile_template = TranslatedEnvironment.compile
_compiling = threading.Lock()


def _compile_template_once(
    self: TranslatedEnvironment,
    source: Any,
    name: str | None = None,
    filename: str | None = None,
    raw: bool = False,
    defer_init: bool = False,
) -> Any:
    links = self.links
    shared = any(self.translations is catalogue for catalogue in _compiled_catalogues.values())
    if raw:  # Python source, asked for by hand
        return _compile_template(self, source, name, filename, raw=True, defer_init=defer_init)
    if not isinstance(source, str) or links is None or not shared:
        return _compile_template(self, source, name, filename, defer_init=defer_init)
    steps = (TranslatedEnvironment._parse, TranslateConstantText.visit_Call, LinkFixedPaths.visit_Call)
    key = (self.language, id(self.translations), steps, source, name, defer_init)
    if key in _compiled_templates:
        code, walks = _compiled_templates[key]
        if [links.path_for(route, **params) for route, params, _ in walks] == [path for _, _, path in walks]:
            return _with_filename(code, filename or "<template>")
    walks = []
    path_for, compiling_thread = links.path_for, threading.get_ident()

    def walk(route: str, /, **params: str) -> str:
        path = path_for(route, **params)
        if threading.get_ident() == compiling_thread:  # not a page rendering meanwhile
            walks.append((route, params, path))
        return path

    with _compiling:
        links.path_for = walk  # type: ignore[method-assign]
        try:
            code = _compile_template(self, source, name, filename, defer_init=defer_init)
        finally:
            del links.path_for  # the class's own again
    _compiled_templates[key] = (code, walks)
    return code


def _with_filename(code: CodeType, filename: str) -> CodeType:
    """The code, told it came from this test's copy of the template (for tracebacks)."""
    constants = tuple(_with_filename(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=constants)


@pytest.fixture(scope="session", autouse=True)
def compile_each_template_once() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TranslatedEnvironment, "compile", _compile_template_once)
        yield


@pytest.fixture
def site_settings(tmp_path: Path) -> Settings:
    """Settings over a private copy of static/ and templates/ (free to edit in a test), a fresh SQLite file,
    no benchmark run of this machine's and no limit on guestbook posts."""
    static_dir = tmp_path / "site" / "static"
    templates_dir = tmp_path / "site" / "templates"
    shutil.copytree(STATIC_DIR, static_dir)
    shutil.copytree(TEMPLATES_DIR, templates_dir)
    database_url = f"sqlite:///{tmp_path / 'data' / 'site.db'}"
    # No benchmark run of your own: the page shows the committed reference run, whatever this machine ran.
    bench_runs_dir = tmp_path / "bench-runs"
    return Settings(
        static_dir=static_dir,
        templates_dir=templates_dir,
        database_url=database_url,
        bench_runs_dir=bench_runs_dir,
        posts_per_minute=0,  # no limit: tests post many entries; test_ratelimit checks the limit itself
    )


class MakeClient(Protocol):
    def __call__(
        self, *, dependencies: Mapping[Callable[..., Any], Callable[..., Any]] | None = None, **settings: Any
    ) -> TestClient: ...


@pytest.fixture
def make_client(site_settings: Settings) -> Iterator[MakeClient]:
    """Build a client over a fresh app: `site_settings` with `settings` changed, and `dependencies`
    replaced (FastAPI's dependency_overrides). Its lifespan runs, as under uvicorn."""
    with ExitStack() as clients:

        def make(
            *, dependencies: Mapping[Callable[..., Any], Callable[..., Any]] | None = None, **settings: Any
        ) -> TestClient:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(i18n, "compile_catalogue", _compile_catalogue_once)
                app = create_app(replace(site_settings, **settings))
            app.dependency_overrides.update(dependencies or {})
            return clients.enter_context(TestClient(app))

        yield make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
