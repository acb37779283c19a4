"""The lesson's own flow, through an in-process client."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp import main
from webapp.main import create_app
from webapp.settings import Settings


def test_ping_answers_pong(client: TestClient) -> None:
    response = client.get("/ping")
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "pong"}


def test_ping_handler_is_the_plain_function_the_lesson_writes() -> None:
    assert main.test() == {"message": "pong"}
    assert not inspect.iscoroutinefunction(main.test)
    # No return annotation: FastAPI would otherwise validate the return value in a second thread hop.
    assert inspect.signature(main.test).return_annotation is inspect.Signature.empty


def test_unknown_path_answers_404_not_found(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_root_redirects_to_the_static_home_page(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/static/index.html")
    followed = client.get("/")
    assert followed.status_code == 200
    assert "정적" in followed.text


def test_each_app_from_the_factory_has_its_own_state(make_client: MakeClient) -> None:
    first, second = make_client(), make_client()
    first.get("/api/now")
    first.get("/api/now")
    assert first.get("/api/now").json()["counter"] == 3
    assert second.get("/api/now").json()["counter"] == 1
    assert len(second.get("/api/requests").json()["requests"]) == 1


def test_factory_fails_loudly_when_a_folder_is_missing(tmp_path) -> None:
    missing = tmp_path / "nowhere"
    try:
        create_app(Settings(templates_dir=missing))
    except RuntimeError as error:
        assert "nowhere" in str(error)
    else:
        raise AssertionError("create_app accepted a missing templates folder")


def test_everything_in_main_but_the_lessons_handler_is_fully_annotated() -> None:
    """mypy lets webapp.main define untyped functions, for `def test():` alone (see pyproject.toml)."""
    tree = ast.parse(Path(main.__file__).read_text(encoding="utf-8"))
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert {function.name for function in functions} >= {"test", "create_app"}
    for function in functions:
        if function.name == "test":
            continue
        arguments = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
        assert function.returns is not None, function.name
        assert all(argument.annotation is not None for argument in arguments), function.name
