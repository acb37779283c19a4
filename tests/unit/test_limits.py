"""RequestLimitsMiddleware: 414 for a long request line, 431 for big headers, 413 for big bodies, 408 for slow ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import NamedTuple

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.limits import MAX_REQUEST_LINE_BYTES, RequestLimitsMiddleware, request_line_bytes

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

    async def without_reading(request: Request) -> PlainTextResponse:
        return PlainTextResponse("not read")

    app = Starlette(
        routes=[Route("/", size_of_body, methods=["GET", "POST"]), Route("/unread", without_reading, methods=["POST"])]
    )
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
    assert response.headers["connection"] == "close"  # the rest of the body is not waited for
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


def test_a_get_without_a_body_keeps_its_connection(echo: Echo) -> None:
    response = echo.client.get("/")
    assert response.status_code == 200
    assert "connection" not in response.headers


def test_a_body_read_to_its_end_keeps_the_connection(echo: Echo) -> None:
    response = echo.client.post("/", content=b"x" * 10)
    assert (response.status_code, response.text) == (200, "10")
    assert "connection" not in response.headers


def test_an_answer_given_without_reading_the_body_closes_the_connection(echo: Echo) -> None:
    """Else uvicorn would go on reading the rest of the body, to throw it away, for as long as it trickles in."""
    response = echo.client.post("/unread", content=b"x" * 10)
    assert (response.status_code, response.text) == (200, "not read")
    assert response.headers["connection"] == "close"


def _target_for_a_line_of(length: int) -> str:
    """A target that makes `GET <target> HTTP/1.1` and its CRLF exactly `length` bytes."""
    fixed = len("GET /?") + len(" HTTP/1.1\r\n")
    return "/?" + "a" * (length - fixed)


def test_a_request_line_of_8_kib_is_served(echo: Echo) -> None:
    assert echo.client.get(_target_for_a_line_of(MAX_REQUEST_LINE_BYTES)).status_code == 200


def test_a_request_line_over_8_kib_gets_414_with_a_sentence_before_the_app_runs(echo: Echo) -> None:
    response = echo.client.get(_target_for_a_line_of(MAX_REQUEST_LINE_BYTES + 1))
    assert response.status_code == 414
    assert response.json() == {
        "detail": "The address is too long: the request line (method, address and HTTP version) "
        f"can be at most {MAX_REQUEST_LINE_BYTES} bytes."
    }
    assert echo.read == []


def test_the_request_line_is_counted_as_it_was_sent() -> None:
    scope = {"method": "POST", "path": "/a b", "raw_path": b"/a%20b", "query_string": b"x=1", "http_version": "1.1"}
    assert request_line_bytes(scope) == len(b"POST /a%20b?x=1 HTTP/1.1\r\n")


# A body that trickles: the app below reads it; `receive` gives one byte, then nothing more for as long as asked.


async def _call(app: ASGIApp, receive_after_the_first_byte: float | None, *, body_seconds: float) -> list[Message]:
    """POST a 10-byte body to `app` behind the limits; after its first byte the rest takes this long (forever: inf;
    None: it has arrived already). Return what was sent back."""
    sent: list[Message] = []
    first = True

    async def receive() -> Message:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"x", "more_body": True}
        if receive_after_the_first_byte is not None:
            await anyio.sleep(receive_after_the_first_byte)
        return {"type": "http.request", "body": b"y" * 9, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"", "http_version": "1.1",
        "headers": [(b"content-length", b"10")], "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80),
    }  # fmt: skip
    limited = RequestLimitsMiddleware(
        app, max_body_bytes=MAX_BODY, max_header_bytes=MAX_HEADERS, body_seconds=body_seconds
    )
    with anyio.fail_after(10):  # a bound for the test itself, not a claim about timing
        await limited(scope, receive, send)
    return sent


async def _reads_body(scope: Scope, receive: Receive, send: Send) -> None:
    body = await Request(scope, receive).body()
    await PlainTextResponse(str(len(body)))(scope, receive, send)


@pytest.mark.anyio
async def test_a_body_that_stops_arriving_gets_408_and_the_connection_is_closed() -> None:
    start, body = await _call(_reads_body, float("inf"), body_seconds=0.2)
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    detail = "The request body arrived too slowly: all of it must arrive within 0.2 s. The connection is closed."
    assert json.loads(body["body"]) == {"detail": detail}


@pytest.mark.anyio
async def test_a_body_that_arrives_within_the_bound_is_read() -> None:
    start, body = await _call(_reads_body, 0, body_seconds=60)
    assert (start["status"], body["body"]) == (200, b"10")
    assert (b"connection", b"close") not in start["headers"]


@pytest.mark.anyio
async def test_a_body_that_has_arrived_is_read_however_late_the_app_reads_it() -> None:
    """The bound is on the client's sending, not on the app's reading."""
    start, body = await _call(_reads_body, None, body_seconds=0)
    assert (start["status"], body["body"]) == (200, b"10")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # what uvicorn runs


# The site: its refusals in the language its pages would choose.


def test_the_site_refuses_oversized_headers_in_the_visitors_language(client: TestClient) -> None:
    response = client.get("/ping", headers={"X-Big": "a" * 10_000, "Accept-Language": "en"})
    assert response.status_code == 431
    assert response.json() == {"detail": "The request headers are too large: at most 8192 bytes in all."}
    korean = client.get("/ping", headers={"X-Big": "a" * 10_000})
    assert korean.json() == {"detail": "요청 헤더가 너무 큽니다. 헤더는 모두 합쳐 8192바이트까지 보낼 수 있습니다."}


def test_the_site_refuses_a_long_address_with_414_in_the_visitors_language(client: TestClient) -> None:
    response = client.get("/ping?lang=en&pad=" + "a" * 9000)
    assert response.status_code == 414
    assert response.json()["detail"].startswith("The address is too long")
    korean = client.get("/ping?pad=" + "a" * 9000)
    assert korean.status_code == 414
    assert korean.json() == {
        "detail": "주소가 너무 깁니다. 요청의 첫 줄(메서드, 주소, HTTP 버전)은 8192바이트까지 보낼 수 있습니다."
    }
