"""The lesson's own flow, through an in-process client."""

from __future__ import annotations

import inspect

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
