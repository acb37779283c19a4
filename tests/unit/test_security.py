"""Odd input through the app in process: never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    "path",
    [
        "/dynamic?name=%ff%fe",
        "/dynamic?name=" + "x" * 10000,
        "/api/inspect?%ff=%fe",
        "/api/requests?limit=-1",
        "/static/index.html?x=%00",
        "/source/static/%ff",
    ],
)
def test_odd_input_never_answers_500(client: TestClient, path: str) -> None:
    assert client.get(path).status_code < 500
