"""lesson/main.py: the lesson's own six lines, step 0 before the site."""

from __future__ import annotations

import importlib.util

from fastapi import FastAPI
from fastapi.testclient import TestClient

from webapp.paths import PROJECT_ROOT

LESSON_MAIN = PROJECT_ROOT / "lesson" / "main.py"


def _lesson_app() -> FastAPI:
    spec = importlib.util.spec_from_file_location("lesson_main", LESSON_MAIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: FastAPI = module.app
    return app


def test_it_is_the_lessons_code_line_for_line() -> None:
    code = [line for line in LESSON_MAIN.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert code == [
        "from fastapi import FastAPI",
        "app = FastAPI()",
        '@app.get("/ping")',
        "def test():",
        '    return {"message": "pong"}',
    ]


def test_it_answers_as_the_lesson_says() -> None:
    client = TestClient(_lesson_app())
    assert client.get("/").status_code == 404
    assert client.get("/").json() == {"detail": "Not Found"}
    assert client.get("/ping").json() == {"message": "pong"}
