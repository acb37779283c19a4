"""A mistake in the learner's code (or anywhere in the site's): the owner in development is told what and where, in
the request's language, as JSON for /ping and as a page for a page; anyone else a generic 500; the terminal the
traceback, once per mistake."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp import logs, main, servererrors
from webapp.headers import CONTENT_SECURITY_POLICY
from webapp.settings import Settings

OWNER = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}
STRANGERS = [
    {},  # Starlette's test client: an address that is not loopback
    {"base_url": "http://127.0.0.1:8000", "client": ("192.0.2.7", 50000)},  # another machine
    {"base_url": "http://example.org", "client": ("127.0.0.1", 50000)},  # a forwarder on this machine
]
MAIN_PY = Path(main.__file__)
LESSONS_RETURN = 'return {"message": "pong"}'
KOREAN_TERMINAL = "uvicorn을 실행한 터미널에 전체 트레이스백(오류가 난 위치까지의 호출 기록)이 출력되어 있습니다."
ENGLISH_TERMINAL = "The terminal that runs uvicorn shows the full traceback."
FOR_ANYONE = {
    "ko": "서버에 오류가 생겨 요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.",
    "en": "The server ran into an error and could not complete the request. Please try again shortly.",
}


def _return_line() -> int:
    """The line of test()'s return statement in webapp/main.py, as the learner sees it."""
    lines = MAIN_PY.read_text(encoding="utf-8").splitlines()
    return next(number for number, text in enumerate(lines, 1) if text.strip() == LESSONS_RETURN)


def _learner_function(source: str) -> Callable[..., Any]:
    """A function whose code says it is in webapp/main.py with its `return` at test()'s return line, as if the
    learner had written `source` (a whole `def`, its return on its last line) there and saved."""
    padding = "\n" * (_return_line() - source.strip().count("\n") - 1)
    scope: dict[str, Any] = {}
    exec(compile(padding + source.strip() + "\n", str(MAIN_PY), "exec"), scope)
    function: Callable[..., Any] = next(
        value for name, value in scope.items() if callable(value) and name != "__builtins__"
    )
    return function


@pytest.fixture
def learner_returns(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], int]:
    """Make the lesson's test() return `expression` instead of the pong; return the line of its return."""

    def edit(expression: str) -> int:
        edited = _learner_function(f"def test():\n    return {expression}")
        monkeypatch.setattr(main.test, "__code__", edited.__code__)
        return _return_line()

    return edit


@pytest.fixture
def one_line_per_mistake() -> Iterator[None]:
    """logs.py's filter with a clock that stands still: a repeat is always within the window."""
    logger = logging.getLogger("uvicorn.error")
    filters = list(logger.filters)
    logs._replace_filter(logger, logs.OncePerWindow(clock=lambda: 0.0))
    yield
    logger.filters[:] = filters


def _owner(client: TestClient) -> TestClient:
    return TestClient(client.app, **OWNER)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "kind"), [("object()", "object"), ("{1: object()}", "object"), ("[b'\\xff']", "bytes")]
)
def test_the_owner_is_told_test_returned_what_json_cannot_carry(
    make_client: MakeClient, learner_returns: Callable[[str], int], expression: str, kind: str
) -> None:
    line = learner_returns(expression)
    response = _owner(make_client()).get("/ping?lang=en")
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": f"test() at webapp/main.py, line {line}, returned a value FastAPI cannot turn into JSON: {kind}. "
        "Return only what JSON can carry: a dict, a list, a string, a number, True, False or None, and the same "
        f"inside. {ENGLISH_TERMINAL}"
    }


def test_the_owner_is_told_it_in_korean(make_client: MakeClient, learner_returns: Callable[[str], int]) -> None:
    line = learner_returns("object()")
    response = _owner(make_client()).get("/ping?lang=ko")
    detail = response.json()["detail"]
    assert detail.startswith(
        f"webapp/main.py {line}번째 줄에 있는 test() 함수의 반환값을 FastAPI가 JSON으로 변환할 수 없습니다: object."
    ), detail
    assert detail.endswith(KOREAN_TERMINAL)


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("1 / 0", "ZeroDivisionError: division by zero"),
        ("pong", "NameError: name 'pong' is not defined"),
        ("float('nan') + {}", "TypeError: unsupported operand type(s) for +: 'float' and 'dict'"),
    ],
)
def test_the_owner_is_told_what_test_raised_and_where(
    make_client: MakeClient, learner_returns: Callable[[str], int], expression: str, error: str
) -> None:
    line = learner_returns(expression)
    owner = _owner(make_client())
    english = owner.get("/ping", headers={"Accept-Language": "en-US,en;q=0.9"})
    korean = owner.get("/ping", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert english.status_code == korean.status_code == 500
    assert english.json() == {"detail": f"test() at webapp/main.py, line {line}, raised {error}. {ENGLISH_TERMINAL}"}
    assert korean.json() == {
        "detail": f"webapp/main.py {line}번째 줄에 있는 test() 함수에서 예외가 발생했습니다: {error}. {KOREAN_TERMINAL}"
    }


def test_a_long_message_is_cut_in_the_answer(make_client: MakeClient, learner_returns: Callable[[str], int]) -> None:
    learner_returns("{}['x' * 10_000_000]")  # a 10 MB key in KeyError's message
    detail = _owner(make_client()).get("/ping?lang=en").json()["detail"]
    assert "raised KeyError: 'xxx" in detail
    assert len(detail) < 2 * servererrors.MAX_ERROR_CHARS, len(detail)


def test_a_value_that_does_not_match_the_return_type_says_so(make_client: MakeClient) -> None:
    client = make_client()
    app: FastAPI = client.app  # type: ignore[assignment]
    typed = _learner_function("def typed() -> dict[str, str]:\n    return ['pong']")
    app.get("/typed")(typed)
    detail = _owner(client).get("/typed?lang=en").json()["detail"]
    assert detail.startswith(
        f"typed() at webapp/main.py, line {_return_line()}, returned a value that does not match its return type: "
        "Input should be a valid dictionary."
    ), detail


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("asked", STRANGERS)
def test_anyone_else_gets_one_generic_sentence_from_a_json_route(
    make_client: MakeClient, learner_returns: Callable[[str], int], asked: dict[str, Any], language: str
) -> None:
    learner_returns("1 / 0")
    client = TestClient(make_client().app, **asked)
    response = client.get(f"/ping?lang={language}")
    assert response.status_code == 500
    assert response.json() == {"detail": FOR_ANYONE[language]}


def test_a_worker_of_the_stack_never_tells_where(
    make_client: MakeClient, learner_returns: Callable[[str], int]
) -> None:
    learner_returns("object()")
    response = _owner(make_client(proxy_secret="the stack's secret")).get("/ping?lang=en")
    assert response.json() == {"detail": FOR_ANYONE["en"]}


def _break_compare(settings: Settings) -> int:
    """A learner's mistake in a template that Jinja reads well but Python cannot run; return its line."""
    template = settings.templates_dir / "compare.html"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("<h1>{{ _(", "<h1>{{ 1 / 0 }}{{ _(", 1), encoding="utf-8")
    return text[: text.index("<h1>{{ _(")].count("\n") + 1


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("ko", "templates/compare.html {line}번째 줄에서 예외가 발생했습니다: ZeroDivisionError: division by zero."),
        ("en", "An exception was raised at templates/compare.html, line {line}: ZeroDivisionError: division by zero."),
    ],
)
def test_the_owner_gets_a_page_from_a_page(
    make_client: MakeClient, site_settings: Settings, language: str, said: str
) -> None:
    line = _break_compare(site_settings)
    response = _owner(make_client()).get(f"/compare?lang={language}")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<p id="error-what">{said.format(line=line)}</p>' in response.text
    assert f'<html lang="{language}">' in response.text
    assert (KOREAN_TERMINAL if language == "ko" else ENGLISH_TERMINAL) in response.text
    # Nothing the site's policy blocks, and kept by no cache.
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script" not in response.text and "<style" not in response.text and "style=" not in response.text
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("asked", STRANGERS)
def test_anyone_else_gets_the_sites_500_page_from_a_page(
    make_client: MakeClient, site_settings: Settings, asked: dict[str, Any], language: str
) -> None:
    _break_compare(site_settings)
    response = TestClient(make_client().app, **asked).get(f"/compare?lang={language}")
    assert response.status_code == 500
    assert response.content == (site_settings.static_dir / "errors" / "500.html").read_bytes()


def test_the_terminal_gets_each_mistake_once_with_where_in_its_first_line(
    make_client: MakeClient,
    learner_returns: Callable[[str], int],
    caplog: pytest.LogCaptureFixture,
    one_line_per_mistake: None,
) -> None:
    client = make_client()
    line = learner_returns("object()")
    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        client.get("/ping")
        client.get("/ping")  # the same mistake again: not written again
        learner_returns("1 / 0")
        client.get("/ping")  # a different one: written at once
    logged = [record for record in caplog.records if record.exc_info]
    assert [record.getMessage().partition("\n")[0] for record in logged] == [
        "Exception in ASGI application: test() at webapp/main.py, line "
        f"{line}, returned a value FastAPI cannot turn into JSON: object. Return only what JSON can carry: a dict, a "
        "list, a string, a number, True, False or None, and the same inside.",
        f"Exception in ASGI application: test() at webapp/main.py, line {line}, raised ZeroDivisionError: "
        "division by zero.",
    ]
    assert [type(record.exc_info[1]) for record in logged] == [ValueError, ZeroDivisionError]  # type: ignore[index]


def test_a_response_under_way_is_not_replaced(make_client: MakeClient) -> None:
    app: FastAPI = make_client().app  # type: ignore[assignment]

    async def half_then_a_mistake() -> AsyncIterator[bytes]:
        yield b"half"
        raise RuntimeError("a stream's mistake")

    app.get("/stream")(lambda: StreamingResponse(half_then_a_mistake()))
    with pytest.raises(RuntimeError, match="a stream's mistake"):  # on to uvicorn, which ends the connection
        TestClient(app, **OWNER).get("/stream")  # type: ignore[arg-type]


def test_if_saying_it_fails_too_the_answer_is_a_bare_500_with_the_sites_headers(
    make_client: MakeClient, learner_returns: Callable[[str], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    learner_returns("1 / 0")

    async def fails(*_: object) -> None:
        raise RuntimeError("the error page's own mistake")

    monkeypatch.setattr(servererrors, "server_error_response", fails)
    with TestClient(make_client().app, raise_server_exceptions=False) as raw:
        response = raw.get("/ping")
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_mistake_outside_the_project_blames_no_file_of_it(make_client: MakeClient) -> None:
    app: FastAPI = make_client().app  # type: ignore[assignment]

    @app.get("/elsewhere")
    async def elsewhere() -> None:  # this test's file: not the project's
        raise RuntimeError("a bug")

    detail = TestClient(app, **OWNER).get("/elsewhere?lang=en").json()["detail"]  # type: ignore[arg-type]
    assert detail == f"An exception was raised: RuntimeError: a bug. {ENGLISH_TERMINAL}"
