"""RequestLimitsMiddleware: 431 for big headers and 413 for big bodies, before the app reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from webapp.limits import RequestLimitsMiddleware

MAX_BODY = 100
MAX_HEADERS = 1000


class Echo(NamedTuple):
    client: TestClient
    read: list[int]  # the size of every body the app read


@pytest.fixture
def echo() -> Iterator[Echo]:
    """A tiny app that answers with the size of the body it read, behind the limits."""
    read: list[int] = []

    async def size_of_body(request: Request) -> PlainTextResponse:
        body = await request.body()
        read.append(len(body))
        return PlainTextResponse(str(len(body)))

    app = Starlette(routes=[Route("/", size_of_body, methods=["GET", "POST"])])
    limited = RequestLimitsMiddleware(app, max_body_bytes=MAX_BODY, max_header_bytes=MAX_HEADERS)
    with TestClient(limited) as client:
        yield Echo(client, read)


def test_a_body_within_the_limit_reaches_the_app(echo: Echo) -> None:
    response = echo.client.post("/", content=b"x" * MAX_BODY)
    assert (response.status_code, response.text) == (200, str(MAX_BODY))


def test_a_declared_big_body_gets_413_before_the_app_runs(echo: Echo) -> None:
    response = echo.client.post("/", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert response.json() == {"detail": f"The request body is too large: at most {MAX_BODY} bytes."}
    assert echo.read == []


def test_a_chunked_big_body_is_counted_as_it_arrives(echo: Echo) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length
        for _ in range(5):
            yield b"y" * 30

    response = echo.client.post("/", content=chunks())
    assert response.status_code == 413
    assert echo.read == []


def test_big_headers_get_431_with_a_sentence(echo: Echo) -> None:
    response = echo.client.get("/", headers={"X-Big": "a" * MAX_HEADERS})
    assert response.status_code == 431
    assert response.json() == {"detail": f"The request headers are too large: at most {MAX_HEADERS} bytes in all."}


def test_get_requests_are_not_counted_for_a_body(echo: Echo) -> None:
    assert echo.client.get("/").status_code == 200


def test_the_site_refuses_oversized_headers(client: TestClient) -> None:
    response = client.get("/ping", headers={"X-Big": "a" * 10_000})
    assert response.status_code == 431
    assert response.json() == {"detail": "The request headers are too large: at most 8192 bytes in all."}
