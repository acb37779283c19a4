"""Bad input sent byte for byte to a real uvicorn: nothing outside the served folders, never a 500."""

from __future__ import annotations

import pytest

from tests.support import LiveServer, raw_get, raw_request

# Files outside the served folders, and a line each one contains.
SECRETS = {"webapp/main.py": b"def create_app", "etc/passwd": b"root:"}

TRAVERSALS = [
    "../webapp/main.py",
    "%2e%2e/webapp/main.py",
    "%2E%2E%2Fwebapp%2Fmain.py",
    "%252e%252e/webapp/main.py",
    "..%2fwebapp%2fmain.py",
    "..%5cwebapp%5cmain.py",
    "..\\webapp\\main.py",
    "....//webapp/main.py",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%c0%ae%c0%ae/webapp/main.py",
    "%00",
    "index.html%00.css",
    "a" * 5000,
]

PREFIXES = ["/static/", "/source/static/", "/source/templates/"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("attempt", TRAVERSALS)
def test_traversal_attempts_answer_404_without_contents(live_server: LiveServer, prefix: str, attempt: str) -> None:
    status, body = raw_get(live_server.port, prefix + attempt)
    assert status == 404, body
    for secret in SECRETS.values():
        assert secret not in body


@pytest.mark.parametrize("prefix", ["/static/", "/source/static/"])
@pytest.mark.parametrize(
    "attempt", ["../templates/base.html", "%2e%2e/templates/base.html", "..%2ftemplates/base.html"]
)
def test_static_side_cannot_reach_templates(live_server: LiveServer, prefix: str, attempt: str) -> None:
    status, body = raw_get(live_server.port, prefix + attempt)
    assert status == 404, body
    assert b"{% block" not in body


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        # Over the app's 8 KiB of headers: 431 (a head too big for uvicorn to parse: test_server_safety.py).
        (b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 12_000 + b"\r\n\r\n", 431),
        (b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(1200)) + b"\r\n", 431),
        (b"BREW /ping HTTP/1.1\r\nHost: x\r\n\r\n", 405),  # any method name parses; the route allows GET
        (b"PROPFIND /static/index.html HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"DELETE /ping HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /dynamic?name=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"POST /api/guestbook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 99999999\r\n\r\n", 413),
        (b"POST /api/guestbook HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc", 422),
        (b"POST /api/guestbook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n"
         b"\xff\xfe\xfd\xfc", 422),
    ],
)  # fmt: skip
def test_malformed_requests_get_a_4xx_from_the_real_server(
    live_server: LiveServer, request_bytes: bytes, expected: int
) -> None:
    status, _ = raw_request(live_server.port, request_bytes)
    assert status == expected
