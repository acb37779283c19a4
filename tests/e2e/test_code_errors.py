"""The learner's mistake in test(), on a real `uvicorn --reload` serving a copy of the project.

`return object()`, then `return 1 / 0`, saved in webapp/main.py as the lesson's loop has it: the owner (this
machine, asking directly) gets JSON that says what and where (webapp/main.py and the line) in the request's
language; another visitor (here from 127.0.0.2) one generic sentence; the terminal the traceback, once per mistake,
its first line in the system's language. Fixed and saved, /ping answers the pong again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import README_RELOAD_ARGS, LiveServer, copy_project, run_site, wait_for
from tools.processes import HOST

RELOAD_SECONDS = 30  # a save to the new process answering: about 1 s here; generous for a shared 2-core machine
ANSWER_SECONDS = 10  # one request on loopback
OUTPUT_SECONDS = 10  # for a line to reach the server's log file
OTHER_VISITOR = "127.0.0.2"
LESSONS_RETURN = 'return {"message": "pong"}'
# The terminal speaks Korean (terminal.py reads LC_MESSAGES when LC_ALL is empty); uvicorn's own words stay English.
KOREAN_TERMINAL = {"LC_ALL": "", "LC_MESSAGES": "ko_KR.UTF-8"}
FOR_ANYONE = {
    "ko": "서버에 오류가 생겨 요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.",
    "en": "The server ran into an error and could not complete the request. Please try again shortly.",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture
def server(project: Path) -> Iterator[LiveServer]:
    """The site started as the README says (with --reload), from the copy."""
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project, env=KOREAN_TERMINAL) as running:
        yield running


def visitor(address: str, server: LiveServer) -> httpx.Client:
    """A client whose connections come from `address`, as a different visitor's would."""
    return httpx.Client(
        base_url=server.url, transport=httpx.HTTPTransport(local_address=address), timeout=ANSWER_SECONDS
    )


def save_return(project: Path, old: str, new: str) -> int:
    """Change test()'s return statement in webapp/main.py as a learner's editor saves it; return its line."""
    main = project / "webapp" / "main.py"
    text = main.read_text(encoding="utf-8")
    assert old in text, "the lesson's return is not where the README says"
    main.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def wait_for_ping(server: LiveServer, check: Callable[[httpx.Response], bool], what: str) -> httpx.Response:
    """/ping as the owner asks it in English, until the new process answers as `check` wants."""

    def answer() -> httpx.Response | None:
        with visitor(HOST, server) as owner:
            response = owner.get("/ping?lang=en", timeout=2)
        return response if check(response) else None

    return wait_for(answer, seconds=RELOAD_SECONDS, what=f"{what}; server output:\n{server.output()}")


def test_the_learners_mistakes_in_test_are_said_to_the_owner_and_kept_from_a_visitor(
    project: Path, server: LiveServer
) -> None:
    line = save_return(project, LESSONS_RETURN, "return object()")
    english = wait_for_ping(server, lambda response: response.status_code == 500, "/ping to answer 500 after object()")
    assert english.headers["content-type"] == "application/json"
    assert english.json()["detail"].startswith(
        f"test() at webapp/main.py, line {line}, returned a value FastAPI cannot turn into JSON: object."
    )
    with visitor(HOST, server) as owner:
        korean = owner.get("/ping", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert korean.json()["detail"].startswith(
        f"webapp/main.py {line}번째 줄에 있는 test() 함수의 반환값을 FastAPI가 JSON으로 변환할 수 없습니다: object."
    )
    assert_a_visitor_learns_nothing(server)
    said = "test() 함수의 반환값을 FastAPI가 JSON으로 변환할 수 없습니다: object."
    first_line = f"Exception in ASGI application: webapp/main.py {line}번째 줄에 있는 {said}"
    wait_for(lambda: first_line in server.output(), seconds=OUTPUT_SECONDS, what=f"the traceback:\n{server.output()}")
    assert server.output().count(first_line) == 1, server.output()  # three answers, one traceback
    assert "ValueError: [TypeError(\"'object' object is not iterable\")" in server.output()

    save_return(project, "return object()", "return 1 / 0")
    english = wait_for_ping(
        server, lambda response: "ZeroDivisionError" in response.text, "/ping to say ZeroDivisionError after 1 / 0"
    )
    assert english.status_code == 500
    assert english.json()["detail"].startswith(
        f"test() at webapp/main.py, line {line}, raised ZeroDivisionError: division by zero."
    )
    assert_a_visitor_learns_nothing(server)
    first_line = (
        f"Exception in ASGI application: webapp/main.py {line}번째 줄에 있는 test() 함수에서 예외가 발생했습니다: "
        "ZeroDivisionError: division by zero."
    )
    wait_for(lambda: first_line in server.output(), seconds=OUTPUT_SECONDS, what=f"the traceback:\n{server.output()}")
    assert server.output().count(first_line) == 1, server.output()
    assert f'webapp/main.py", line {line}, in test\n    return 1 / 0' in server.output()

    save_return(project, "return 1 / 0", LESSONS_RETURN)
    wait_for_ping(server, lambda response: response.status_code == 200, "/ping to answer pong after the fix")


def assert_a_visitor_learns_nothing(server: LiveServer) -> None:
    with visitor(OTHER_VISITOR, server) as other:
        for language, sentence in FOR_ANYONE.items():
            response = other.get(f"/ping?lang={language}")
            assert response.status_code == 500
            assert response.json() == {"detail": sentence}
