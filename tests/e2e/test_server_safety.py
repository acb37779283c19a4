"""Safe on a server, tried for real: raw sockets, a second visitor on 127.0.0.2, Chromium, the stack's nginx.

Every test talks to loopback only, is bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from tests.support import LiveServer, RunningStack, run_site, run_stack, wait_for
from tools.processes import HOST
from webapp.headers import SECURITY_HEADERS
from webapp.paths import STATIC_DIR

SECOND_VISITOR = "127.0.0.2"  # another person, as far as the servers can tell
DOT_FILE = STATIC_DIR / ".env-test-dot-file"  # made for the stack's tests, removed after them
SLOW_CLIENTS = 2500  # one address, more sockets than the old nginx (2 x 1024 connections) could hold
SLOW_CLIENT_SECONDS = 12  # longer than nginx's client_header_timeout (10 s)


def visitor(address: str, base_url: str) -> httpx.Client:
    """An HTTP client whose connections come from `address` (127.0.0.x), as a different visitor's would."""
    return httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=address), timeout=10)


def receive_all(sock: socket.socket, seconds: float) -> bytes:
    """What the server sends until it closes the connection or `seconds` pass."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    return received


# A directly exposed uvicorn.


def test_a_huge_request_head_is_cut_off_not_buffered(live_server: LiveServer) -> None:
    """uvicorn answers 400 and closes once 16 KiB of head are incomplete; before, it read megabytes first."""
    with socket.create_connection((HOST, live_server.port), timeout=5) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n")
        sent = 0
        try:
            while sent < 4_000_000:  # without the blank line that ends a head: it never completes
                sock.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
                sent += 1013
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: what we want
        answer = receive_all(sock, 3)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert sent < 1_000_000, f"the server read {sent} bytes of head before it refused"
    assert httpx.get(f"{live_server.url}/ping", timeout=2).status_code == 200


def test_refused_json_is_one_log_line_not_a_traceback(live_server: LiveServer) -> None:
    bodies = ['{"name": NaN, "message": "x"}', '{"name": 1e999, "message": "x"}', '{"name": "\\ud800", "message": "x"}']
    before = live_server.output()
    for body in bodies:
        response = httpx.post(
            f"{live_server.url}/api/guestbook", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["msg"]
    wait_for(
        lambda: live_server.output().count('"POST /api/guestbook HTTP/1.1" 422') - before.count("422") >= 3,
        seconds=5,
        what="the access log lines",
    )
    added = live_server.output()[len(before) :]
    assert "Traceback" not in added and "ERROR" not in added, added
    assert len([line for line in added.splitlines() if "/api/guestbook" in line]) == len(bodies)


def test_a_client_that_leaves_mid_form_is_not_a_traceback(live_server: LiveServer) -> None:
    before = live_server.output()
    with socket.create_connection((HOST, live_server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /guestbook HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=a"
        )
        time.sleep(0.2)
    time.sleep(0.5)  # the server notices the close and ends that request
    assert httpx.get(f"{live_server.url}/ping?after-the-form").status_code == 200
    wait_for(lambda: "/ping?after-the-form" in live_server.output(), seconds=5, what="the next request's log line")
    assert "Traceback" not in live_server.output()[len(before) :]


def test_head_is_answered_by_the_real_server(live_server: LiveServer) -> None:
    for path in ("/ping", "/dynamic", "/api/now", "/guestbook"):
        response = httpx.head(f"{live_server.url}{path}")
        assert response.status_code == 200, path
        assert response.content == b""


def test_a_second_visitor_is_not_shown_to_the_first(live_server: LiveServer) -> None:
    with visitor(SECOND_VISITOR, live_server.url) as them, visitor(HOST, live_server.url) as me:
        them.get("/dynamic", params={"name": "Jiwoo"}, headers={"User-Agent": "Jiwoo-Phone/1.0"})
        for path in ("/log", "/api/requests", "/source/templates/dynamic.html"):
            page = me.get(path).text
            for secret in ("Jiwoo", SECOND_VISITOR):
                assert secret not in page, (path, secret)
        # Their own view of it is whole.
        assert "Jiwoo-Phone/1.0" in them.get("/source/templates/dynamic.html").text
        assert "name=Jiwoo" in them.get("/log").text


def test_posts_from_one_address_are_limited_and_others_still_post(tmp_path: Path) -> None:
    with (
        run_site(cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}"}) as server,
        visitor(SECOND_VISITOR, server.url) as them,
        visitor(HOST, server.url) as me,
    ):
        answers = [them.post("/api/guestbook", json={"name": "spam", "message": str(n)}) for n in range(15)]
        assert [a.status_code for a in answers] == [201] * 10 + [429] * 5
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert me.post("/api/guestbook", json={"name": "kim", "message": "hello"}).status_code == 201
        assert len(me.get("/api/guestbook").json()["entries"]) == 11


def test_deleting_the_sqlite_file_while_running_loses_nothing_silently(tmp_path: Path) -> None:
    database = tmp_path / "site.db"
    with run_site(cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{database}"}) as server:
        assert httpx.post(f"{server.url}/api/guestbook", json={"name": "a", "message": "kept"}).status_code == 201
        database.unlink()
        refused = httpx.post(f"{server.url}/api/guestbook", json={"name": "a", "message": "would be lost"})
        assert refused.status_code == 503
        assert "deleted or replaced" in server.output()
    # Restarted, the site makes a new file and works.
    with run_site(cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{database}"}) as server:
        assert httpx.post(f"{server.url}/api/guestbook", json={"name": "a", "message": "new"}).status_code == 201


def test_a_form_on_another_site_cannot_post_to_the_guestbook(page: Page, live_server: LiveServer) -> None:
    # localhost and 127.0.0.1 are different sites to the browser: the attacker's page is on one,
    # the guestbook on the other.
    attacker = f"http://localhost:{live_server.port}/attack.html"
    target = f"{live_server.url}/guestbook"
    page.route(
        attacker,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form method="post" action="{target}"><input name="name" value="mallory">'
            '<input name="message" value="posted from elsewhere"></form>'
            "<script>document.forms[0].submit()</script>",
        ),
    )
    count = len(httpx.get(f"{live_server.url}/api/guestbook").json()["entries"])
    with page.expect_response(target) as answer:
        page.goto(attacker)
    assert answer.value.status == 403
    page.wait_for_load_state()
    assert "CSRF" in page.locator("#refusal").inner_text()
    assert len(httpx.get(f"{live_server.url}/api/guestbook").json()["entries"]) == count
    # The same form on the site's own page is taken.
    page.goto(target)
    page.fill("#name", "kim")
    page.fill("#message", "from the site itself")
    page.click("button[type=submit]")
    page.wait_for_url(target)
    assert "from the site itself" in page.locator(".entries").inner_text()


# The stack: nginx in front.


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    DOT_FILE.write_text("SECRET_KEY=never-served")
    try:
        with run_stack(tmp_path_factory.mktemp("stack")) as running:
            yield running
    finally:
        DOT_FILE.unlink(missing_ok=True)


def _port(stack: RunningStack, name: str = "http_url") -> int:
    return int(stack.state[name].rsplit(":", 1)[1])


def _raw(stack: RunningStack, request: bytes, seconds: float = 3) -> bytes:
    with socket.create_connection((HOST, _port(stack)), timeout=seconds) as sock:
        sock.sendall(request)
        return receive_all(sock, seconds)


def test_slow_clients_on_one_address_do_not_keep_others_out(stack: RunningStack) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = SLOW_CLIENTS + 200
    if hard != resource.RLIM_INFINITY and hard < needed:
        reason = f"this system lets a process open {hard} files; the test needs {needed} (ulimit -Hn)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    port = _port(stack)
    sockets: list[socket.socket] = []
    failures: list[str] = []
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.socket()
            sock.bind((SECOND_VISITOR, 0))
            sock.settimeout(2)
            sock.connect((HOST, port))
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n")  # and never the rest
            sockets.append(sock)
        started = time.monotonic()
        served = 0
        with visitor(HOST, stack.url) as me:
            while time.monotonic() - started < SLOW_CLIENT_SECONDS:
                for path in ("/static/index.html", "/ping"):
                    try:
                        status = me.get(path, timeout=2).status_code
                    except httpx.HTTPError as error:
                        failures.append(f"{path}: {error!r}")
                        continue
                    if status == 200:
                        served += 1
                    else:
                        failures.append(f"{path}: {status}")
                for sock in sockets[:: len(sockets) // 50]:  # a few trickle one more header line
                    with contextlib.suppress(OSError):
                        sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.5)
        assert not failures, failures[:5]
        assert served >= 20
        # nginx closed the sockets whose head did not arrive in 10 s, with 408 or in silence.
        closed = 0
        for sock in sockets:
            sock.settimeout(0.01)
            try:
                sock.recv(1024)  # b"" (closed) or a 408 before the close: either way nginx let go
            except TimeoutError:
                continue  # still open
            except OSError:
                pass  # reset
            closed += 1
        assert closed >= SLOW_CLIENTS * 0.9, f"only {closed} of {SLOW_CLIENTS} slow sockets were closed"
    finally:
        for sock in sockets:
            sock.close()


def test_one_address_is_limited_and_this_machine_is_not(stack: RunningStack) -> None:
    with visitor(SECOND_VISITOR, stack.url) as them, visitor(HOST, stack.url) as me:
        statuses = [them.get("/api/now").status_code for _ in range(80)]
        assert statuses.count(429) >= 10, statuses
        refused = them.get("/api/now")
        assert refused.status_code == 429
        assert "요청이 너무 많습니다" in refused.text and "Too many requests" in refused.text
        for name, value in SECURITY_HEADERS.items():
            assert refused.headers[name] == value
        assert all(me.get("/api/now").status_code == 200 for _ in range(80))
    with visitor("127.0.0.3", stack.url) as poster:
        posts = [poster.post("/api/guestbook", json={"name": "p", "message": str(n)}).status_code for n in range(10)]
        assert posts[:6] == [201] * 6 and posts[6:] == [429] * 4, posts


def test_unknown_host_names_get_no_answer_and_redirects_are_paths(stack: RunningStack) -> None:
    assert _raw(stack, b"GET /ping HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n") == b""
    assert _raw(stack, b"GET /static/index.html HTTP/1.1\r\nHost: evil.example\r\n\r\n") == b""
    known = _raw(stack, b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert known.startswith(b"HTTP/1.1 200")
    # HTTP/1.0 without a Host header: the redirect is a path, never the worker's internal address.
    home = _raw(stack, b"GET / HTTP/1.0\r\n\r\n")
    assert re.search(rb"^Location: /static/index\.html\r$", home, re.MULTILINE), home[:300]
    favicon = _raw(stack, b"GET /favicon.ico HTTP/1.0\r\n\r\n")
    assert re.search(rb"^Location: /static/favicon\.ico\r$", favicon, re.MULTILINE), favicon[:300]
    # A name nginx accepts, written oddly: the workers get the checked name and the real port, never
    # the client's header, so no page links to a host the client chose.
    for request in (
        b"GET http://localhost/guestbook HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        b"GET /guestbook HTTP/1.1\r\nHost: localhost:evil.example\r\nConnection: close\r\n\r\n",
        b"GET /guestbook HTTP/1.1\r\nHost: LOCALHOST.\r\nConnection: close\r\n\r\n",
    ):
        page = _raw(stack, request)
        assert page.startswith(b"HTTP/1.1 200") and b"evil" not in page and b"LOCALHOST" not in page, request
        assert f'href="http://localhost:{_port(stack)}/guestbook?lang=en"'.encode() in page, request
    dynamic = _raw(stack, b"GET /dynamic HTTP/1.0\r\n\r\n")
    assert dynamic.startswith(b"HTTP/1.1 200") and b"127.0.0.1:" not in dynamic.split(b"\r\n\r\n")[0]


def test_nginx_says_no_version_and_its_error_pages_are_the_sites(stack: RunningStack) -> None:
    for path in ("/static/index.html", "/ping", "/static/missing.html"):
        assert httpx.get(f"{stack.url}{path}").headers["server"] == "nginx", path
    missing = httpx.get(f"{stack.url}/static/missing.html")
    assert missing.status_code == 404
    assert "페이지를 찾을 수 없습니다" in missing.text and "Not found" in missing.text
    assert not re.search(r"nginx/\d", missing.text)
    for name, value in SECURITY_HEADERS.items():
        assert missing.headers[name] == value
    # What nginx refuses before it knows the page (a request line it cannot parse, an unknown
    # method, a path too long) gets the site's page and headers too.
    for request in (
        b"GARBAGE\r\n\r\n",
        b"TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ):
        answer = _raw(stack, request)
        head = answer.split(b"\r\n\r\n")[0].decode()
        assert re.match(r"HTTP/1\.1 4\d\d ", head), head
        assert "잘못된 요청입니다".encode() in answer and "X-Frame-Options: DENY" in head, head
    too_big = httpx.post(f"{stack.url}/api/guestbook", content=b"x" * 20_000)
    assert too_big.status_code == 413
    assert "요청 본문이 너무 큽니다" in too_big.text


def test_values_json_cannot_encode_get_422_through_nginx(stack: RunningStack) -> None:
    for body in ('{"name": NaN, "message": "x"}', '{"name": "\\udfff", "message": "x"}'):
        response = httpx.post(f"{stack.url}/api/guestbook", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["msg"]


def test_dot_files_are_not_served_by_nginx(stack: RunningStack) -> None:
    for path in (f"/static/{DOT_FILE.name}", "/static/.git/config", f"/source/static/{DOT_FILE.name}"):
        response = httpx.get(f"{stack.url}{path}")
        assert response.status_code == 404, path
        assert "never-served" not in response.text


def test_tls_has_forward_secrecy_only_and_https_says_hsts(stack: RunningStack) -> None:
    https_port = _port(stack, "https_url")

    def handshake(ciphers: str) -> bool:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(ciphers)
        try:
            with (
                socket.create_connection((HOST, https_port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="localhost"),
            ):
                return True
        except ssl.SSLError:
            return False

    assert handshake("ECDHE-RSA-AES128-GCM-SHA256")
    for without_forward_secrecy in ("AES128-GCM-SHA256", "AES256-SHA", "AES128-SHA256"):
        assert not handshake(without_forward_secrecy), without_forward_secrecy
    with httpx.Client(verify=False) as client:
        for path in ("/static/index.html", "/ping"):
            assert (
                client.get(stack.state["https_url"] + path).headers["strict-transport-security"].startswith("max-age=")
            )
            assert "strict-transport-security" not in httpx.get(stack.url + path).headers


def test_nginx_workers_never_run_as_root(stack: RunningStack) -> None:
    master = stack.state["nginx_pid"]
    workers = [
        int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and _parent(entry) == master
    ]
    assert workers
    for pid in workers:
        uid = int(re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE).group(1))  # type: ignore[union-attr]
        assert uid != 0 if os.geteuid() == 0 else uid == os.geteuid()


def _parent(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def test_through_nginx_visitors_are_told_apart_and_via_cannot_be_faked(stack: RunningStack) -> None:
    with visitor(SECOND_VISITOR, stack.url) as them, visitor(HOST, stack.url) as me:
        # Their own X-Forwarded-For is not believed: nginx passes on the address it saw.
        them.get("/dynamic", params={"name": "Jiwoo"}, headers={"X-Forwarded-For": "203.0.113.7"})
        for _ in range(4):  # both workers, round robin
            for path in ("/log", "/api/requests", "/source/templates/dynamic.html"):
                page = me.get(path).text
                assert "Jiwoo" not in page and SECOND_VISITOR not in page and "203.0.113.7" not in page
        mine = me.get("/dynamic").text
        assert re.search(r'id="via">nginx → uvicorn', mine)
        assert re.search(r'id="client">127\.0\.0\.1<', mine)
    worker = stack.worker_urls()[0]
    faked = httpx.get(f"{worker}/dynamic", headers={"X-Forwarded-For": "203.0.113.7", "X-Proxy-Secret": "guess"})
    assert 'id="via">nginx' not in faked.text
