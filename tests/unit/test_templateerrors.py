"""A template that cannot be rendered: the owner in development sees which one and where, in the page's language;
everyone else the site's 500 page; the terminal the traceback, once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jinja2 import TemplateSyntaxError

from tests.unit.conftest import MakeClient
from webapp import templateerrors
from webapp.headers import CONTENT_SECURITY_POLICY
from webapp.settings import Settings
from webapp.site import site_of
from webapp.templateerrors import TemplateProblem, check_template, problem_of

OWNER = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}
# The owner's page names the template; nobody else's may.
BROKEN_NAME = "compare.html"


def _break(templates_dir: Path, old: str, new: str, name: str = BROKEN_NAME) -> int:
    """Replace `old` in a template with `new`; return the line (from 1) where `new` starts."""
    template = templates_dir / name
    text = template.read_text(encoding="utf-8")
    assert old in text
    template.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def _owner(client: TestClient) -> TestClient:
    """The same app, asked from this machine directly for a loopback host: the owner, in development."""
    return TestClient(client.app, **OWNER)  # type: ignore[arg-type]


def _syntax_error(settings: Settings) -> int:
    return _break(settings.templates_dir, "<h1>{{ _(", "<h1>{% if %}{{ _(")


def test_the_owner_sees_the_template_the_line_and_the_mistake_in_korean(
    make_client: MakeClient, site_settings: Settings
) -> None:
    owner = _owner(make_client())
    line = _syntax_error(site_settings)
    response = owner.get("/compare?lang=ko")
    assert response.status_code == 500
    assert f"템플릿 <code>{BROKEN_NAME}</code>, {line}번째 줄" in response.text
    assert "Jinja가 템플릿을 읽을 수 없습니다" in response.text
    assert "uvicorn을 실행한 터미널" in response.text
    assert 'lang="ko"' in response.text


def test_the_owner_sees_it_in_english(make_client: MakeClient, site_settings: Settings) -> None:
    owner = _owner(make_client())
    line = _syntax_error(site_settings)
    response = owner.get("/compare?lang=en")
    assert response.status_code == 500
    assert f"Template <code>{BROKEN_NAME}</code>, line {line}" in response.text
    assert "Jinja cannot read the template" in response.text
    assert "Expected an expression" in response.text  # Jinja's own words, after the sentence
    assert response.headers["cache-control"] == "no-store"


def test_the_owners_page_fits_the_sites_content_security_policy(
    make_client: MakeClient, site_settings: Settings
) -> None:
    owner = _owner(make_client())
    _syntax_error(site_settings)
    response = owner.get("/compare?lang=en")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script" not in response.text and "<style" not in response.text and "style=" not in response.text
    assert 'href="/static/style.css"' in response.text


@pytest.mark.parametrize(
    "asked",
    [
        {},  # Starlette's test client: an address that is not loopback
        {"base_url": "http://127.0.0.1:8000", "client": ("192.0.2.7", 50000)},  # another machine
        {"base_url": "http://example.org", "client": ("127.0.0.1", 50000)},  # a forwarder on this machine
    ],
)
def test_anyone_else_gets_the_sites_500_page_without_a_file_name(
    make_client: MakeClient, site_settings: Settings, asked: dict[str, object]
) -> None:
    client = TestClient(make_client().app, **asked)  # type: ignore[arg-type]
    _syntax_error(site_settings)
    response = client.get("/compare?lang=en")
    assert response.status_code == 500
    assert response.content == (site_settings.static_dir / "errors" / "500.html").read_bytes()
    assert BROKEN_NAME not in response.text and "Traceback" not in response.text


def test_a_worker_of_the_stack_never_shows_the_owners_page(make_client: MakeClient, site_settings: Settings) -> None:
    owner = _owner(make_client(proxy_secret="the stack's secret"))
    _syntax_error(site_settings)
    response = owner.get("/compare?lang=en")
    assert response.status_code == 500
    assert response.content == (site_settings.static_dir / "errors" / "500.html").read_bytes()


def test_the_terminal_gets_the_traceback_once(
    make_client: MakeClient, site_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    line = _syntax_error(site_settings)
    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        client.get("/compare")
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1, logged
    assert logged[0].name == "uvicorn.error"
    # uvicorn's own words, then where: a different mistake is not taken for a repeat of the one before.
    first_line = f"Exception in ASGI application: {BROKEN_NAME}, line {line}: Expected an expression"
    assert logged[0].getMessage().startswith(first_line), logged[0].getMessage()
    assert isinstance(logged[0].exc_info[1], TemplateSyntaxError)  # type: ignore[index]


def test_a_name_the_page_does_not_give_is_found_at_its_line(make_client: MakeClient, site_settings: Settings) -> None:
    owner = _owner(make_client())
    line = _break(site_settings.templates_dir, "<h1>{{ _(", "<h1>{{ visitor.name.first }}{{ _(")
    response = owner.get("/compare?lang=en")
    assert f"Template <code>{BROKEN_NAME}</code>, line {line}" in response.text
    assert "The template uses a value the page does not give it" in response.text


def test_a_mistake_in_an_included_template_names_that_template(
    make_client: MakeClient, site_settings: Settings
) -> None:
    owner = _owner(make_client())
    line = _break(site_settings.templates_dir, "</main>", "{{ page.missing.value }}</main>", name="base.html")
    response = owner.get("/compare?lang=en")
    assert f"Template <code>base.html</code>, line {line}" in response.text


def test_a_link_to_a_page_the_site_does_not_have(make_client: MakeClient, site_settings: Settings) -> None:
    owner = _owner(make_client())
    line = _break(site_settings.templates_dir, "<h1>{{ _(", "<h1>{{ url_for('dynamik') }}{{ _(")
    response = owner.get("/compare?lang=en")
    assert f"Template <code>{BROKEN_NAME}</code>, line {line}" in response.text
    assert "no route has the name given to url_for()" in response.text


def test_check_template_names_the_line_in_each_language(make_client: MakeClient, site_settings: Settings) -> None:
    templates = site_of(make_client().app).templates  # type: ignore[arg-type]
    assert check_template(templates, BROKEN_NAME) is None
    line = _syntax_error(site_settings)
    problem = check_template(templates, BROKEN_NAME)
    assert problem is not None
    assert (problem.name, problem.line, problem.message) == (BROKEN_NAME, line, templateerrors.KINDS[1][1])
    assert "Expected an expression" in problem.detail


def test_check_template_says_a_template_is_missing(make_client: MakeClient, site_settings: Settings) -> None:
    templates = site_of(make_client().app).templates  # type: ignore[arg-type]
    (site_settings.templates_dir / BROKEN_NAME).unlink()
    problem = check_template(templates, BROKEN_NAME)
    assert isinstance(problem, TemplateProblem)
    assert (problem.name, problem.line) == (BROKEN_NAME, None)
    assert problem.message == "The template, or one it includes or extends, does not exist."


def test_every_kind_of_jinja_error_has_a_sentence() -> None:
    from jinja2 import TemplateError, TemplateRuntimeError, UndefinedError

    for error in (TemplateRuntimeError("stopped"), UndefinedError("'x' is undefined"), TemplateError()):
        assert problem_of(error).message in {sentence for _, sentence in templateerrors.KINDS}
