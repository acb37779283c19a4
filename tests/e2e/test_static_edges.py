"""Every answer nginx can give for a static path, asked of the stack and of a direct uvicorn on the same files:
the same status, type and Cache-Control from both, each header once, never `immutable` on a refusal.

Both serve a copy of the project with the odd files a static folder can hold (a link, files the server may not
read, a name that looks fingerprinted, a socket no one can open). The direct uvicorn runs without root's power
to read any file (tests/permissions.py), as nginx's workers run as an unprivileged user.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.permissions import make_unreadable, without_root_powers
from tests.support import RunningStack, copy_project, require_program, run_stack, wait_for
from tools.processes import HOST, STARTUP_SECONDS, child_environment, free_port, spawn, stop_process, uvicorn_command
from tools.stack import CLIENT_LIMITS
from webapp.caching import FINGERPRINTED, MADE_FOR_THIS_REQUEST
from webapp.paths import PROJECT_ROOT
from webapp.settings import DEFAULT_STATIC_CACHE_CONTROL

ANSWER_SECONDS = 10  # one answer on loopback; generous for a shared 2-core machine
BIG_FILE_BYTES = 16 * 1024 * 1024  # more than the kernel buffers of a connection that reads nothing hold
HTML = "text/html; charset=utf-8"
FILE_POLICY = DEFAULT_STATIC_CACHE_CONTROL
FINGERPRINTED_STAMP = "/static/stamp.0123456789.svg"  # any ten hex digits name stamp.svg
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        return values[0] if values else None

    def repeated(self) -> list[str]:
        names = [name for name, _ in self.headers]
        return sorted({name for name in names if names.count(name) > 1})


def ask(port: int, target: str, headers: str = "", *, method: str = "GET", local: str = HOST) -> Answer:
    """Send one request exactly as written, from `local`, and return the answer with every header as sent."""
    with socket.create_connection((HOST, port), timeout=ANSWER_SECONDS, source_address=(local, 0)) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n{headers}\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    pairs = [line.split(":", 1) for line in lines]
    return Answer(int(status_line.split()[1]), [(name.lower(), value.strip()) for name, value in pairs], body)


@dataclass
class Direct:
    port: int
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Servers:
    project: Path
    stack: RunningStack
    direct: Direct

    @property
    def ports(self) -> list[tuple[str, int]]:
        return [("nginx", int(self.stack.url.rsplit(":", 1)[1])), ("uvicorn", self.direct.port)]


def sent_etag(port: int, target: str) -> str:
    """The ETag this server sends for the file a case asks for: each makes its own (nginx's has whole seconds,
    the app's nanoseconds), as a browser keeps a separate cache for each."""
    etag = ask(port, target).header("etag")
    assert etag, (port, target)
    return etag


def odd_files(static: Path) -> None:
    """Add to a static folder what the cases below ask for."""
    shutil.copy(static / "stamp.svg", static / "vite.0123456789.js")  # its own name looks fingerprinted
    (static / "link.css").symlink_to("style.css")
    (static / "linkdir").symlink_to("en", target_is_directory=True)
    (static / "noindex").mkdir()
    (static / "noindex" / "a.css").write_text("a {}")
    (static / "unreadable.css").write_text("secret")
    (static / "locked").mkdir()
    (static / "locked" / "inner.css").write_text("secret")
    for unreadable in (static / "unreadable.css", static / "locked"):
        make_unreadable(unreadable)
    # A socket: opening it fails with ENXIO, neither "missing" nor "forbidden": a fault, as EIO would be.
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(static / "socket.css"))
    (static / "big.bin").write_bytes(b"\0" * BIG_FILE_BYTES)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    require_program("nginx")
    require_program("openssl")
    prefix = without_root_powers()
    tmp = tmp_path_factory.mktemp("edges")
    # A folder nginx's unprivileged workers can reach, so the stack serves it as it is, not a copy of it.
    project = Path(tempfile.mkdtemp(prefix="webapp-static-edges-"))
    try:
        project.chmod(0o755)
        copy_project(project)
        shutil.copytree(PROJECT_ROOT / "tools", project / "tools", ignore=shutil.ignore_patterns("__pycache__"))
        for requirements in PROJECT_ROOT.glob("requirements*.txt"):
            shutil.copy(requirements, project)
        odd_files(project / "static")
        with stack_from(project, tmp) as stack, direct_uvicorn(prefix, project, tmp) as direct:
            assert f"{project / 'static'}\n" in stack.output(), "the stack serves a copy: " + stack.output()
            yield Servers(project, stack, direct)
    finally:
        shutil.rmtree(project, ignore_errors=True)


@contextmanager
def stack_from(project: Path, tmp: Path) -> Iterator[RunningStack]:
    """`python -m tools.stack` run from the copy, so its nginx and workers serve the copy's static/
    (the checkout's static/ a test must not change)."""
    with run_stack(tmp, project=project, database_url=f"sqlite:///{tmp / 'stack.db'}") as stack:
        yield stack


@contextmanager
def direct_uvicorn(prefix: list[str], project: Path, tmp: Path) -> Iterator[Direct]:
    """The site on its own uvicorn over the copy, started with `prefix` (permission bits apply to it)."""
    port, log_path = free_port(), tmp / "direct.log"
    env = child_environment({"DATABASE_URL": f"sqlite:///{tmp / 'direct.db'}"})
    with open(log_path, "wb") as log:
        process = spawn(
            [*prefix, *uvicorn_command(port, app_dir=project)], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    direct = Direct(port, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"uvicorn exited with {process.returncode}:\n{direct.output()}")
        return httpx.get(f"http://{HOST}:{port}/ping", timeout=1).is_success

    try:
        wait_for(ready, seconds=STARTUP_SECONDS, what="the direct uvicorn to answer /ping")
        yield direct
    finally:
        stop_process(process)


# (target, request headers, method) -> (status, Content-Type or None where each server says it its own way,
# Cache-Control). Where the type is None, nginx sends a short page of its own and the app none or plain text.
CASES = {
    # Files and their answers.
    ("/static/style.css", "", "GET"): (200, "text/css; charset=utf-8", FILE_POLICY),
    ("/static/style.css", "", "HEAD"): (200, "text/css; charset=utf-8", FILE_POLICY),
    ("/static/style.css", "Range: bytes=0-9\r\n", "GET"): (206, "text/css; charset=utf-8", FILE_POLICY),
    ("/static/style.css", "If-None-Match: {etag}\r\n", "GET"): (304, None, FILE_POLICY),
    ("/static/en/", "", "GET"): (200, HTML, FILE_POLICY),
    (FINGERPRINTED_STAMP, "", "GET"): (200, "image/svg+xml", FINGERPRINTED),
    (FINGERPRINTED_STAMP, "If-None-Match: {etag}\r\n", "GET"): (304, None, FINGERPRINTED),
    # A fingerprinted file is sent whole: no 206, and no 416 that would say `immutable`.
    (FINGERPRINTED_STAMP, "Range: bytes=0-9\r\n", "GET"): (200, "image/svg+xml", FINGERPRINTED),
    (FINGERPRINTED_STAMP, "Range: bytes=999999-\r\n", "GET"): (200, "image/svg+xml", FINGERPRINTED),
    # nginx has added the file's headers before it finds the range cannot be served: its 416 keeps them, once.
    ("/static/style.css", "Range: bytes=999999-\r\n", "GET"): (416, None, FILE_POLICY),
    ("/static/prerendered/dynamic.html", "Range: bytes=999999-\r\n", "GET"): (416, None, FILE_POLICY),
    ("/static/errors/404.html", "Range: bytes=999999-\r\n", "GET"): (416, None, MADE_FOR_THIS_REQUEST),
    # Preconditions that fail.
    ("/static/style.css", 'If-Match: "nope"\r\n', "GET"): (412, None, MADE_FOR_THIS_REQUEST),
    (FINGERPRINTED_STAMP, 'If-Match: "nope"\r\n', "GET"): (412, None, MADE_FOR_THIS_REQUEST),
    (FINGERPRINTED_STAMP, f"If-Unmodified-Since: {EPOCH}\r\n", "GET"): (412, None, MADE_FOR_THIS_REQUEST),
    # Refused: a link, what the server may not read, a folder without index.html.
    ("/static/link.css", "", "GET"): (403, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/linkdir", "", "GET"): (403, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/unreadable.css", "", "GET"): (403, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/locked/inner.css", "", "GET"): (403, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/noindex/", "", "GET"): (403, HTML, MADE_FOR_THIS_REQUEST),
    # Not found.
    ("/static/missing.css", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/missing.css", "", "HEAD"): (404, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/style.css/", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/linkdir/index.html", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/.env", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    (FINGERPRINTED_STAMP + "%0A", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    (FINGERPRINTED_STAMP + "/", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/vite.0123456789.js", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/missing.0123456789.css", "", "GET"): (404, HTML, MADE_FOR_THIS_REQUEST),
    # Methods, folders, faults.
    ("/static/style.css", "", "POST"): (405, HTML, MADE_FOR_THIS_REQUEST),
    ("/static/en?a=1", "", "GET"): (301, None, MADE_FOR_THIS_REQUEST),
    ("/static/socket.css", "", "GET"): (500, HTML, MADE_FOR_THIS_REQUEST),
}


@pytest.mark.parametrize(("target", "headers", "method"), CASES)
def test_nginx_and_the_app_answer_a_static_path_alike(servers: Servers, target: str, headers: str, method: str) -> None:
    status, content_type, policy = CASES[(target, headers, method)]
    for server, port in servers.ports:
        sent = headers.format(etag=sent_etag(port, target)) if "{etag}" in headers else headers
        answer = ask(port, target, sent, method=method)
        seen = (answer.status, answer.header("cache-control"))
        assert seen == (status, policy), (server, seen, answer.headers)
        assert answer.repeated() == [], (server, answer.headers)
        if content_type is not None:
            assert answer.header("content-type") == content_type, (server, answer.headers)
        if answer.status == 301:
            assert answer.header("location") == "/static/en/?a=1", server
        if answer.status in (403, 404) and method == "GET":  # the same page from both: it tells nothing more
            assert answer.body == (servers.project / "static" / "errors" / "404.html").read_bytes(), server


def test_a_fault_is_one_line_in_the_apps_log_not_a_traceback(servers: Servers) -> None:
    assert ask(servers.direct.port, "/static/socket.css").status == 500
    said = [line for line in servers.direct.output().splitlines() if "static/socket.css could not be opened" in line]
    assert said, servers.direct.output()
    assert "Traceback" not in servers.direct.output()


def test_nginx_416_over_https_carries_each_header_once(servers: Servers) -> None:
    # Over HTTPS the answer also carries HSTS, which nginx would add twice too.
    with httpx.Client(base_url=servers.stack.state["https_url"], verify=False, timeout=ANSWER_SECONDS) as client:
        # Identity: a response nginx compresses as it sends it has no length, so no range either.
        answer = client.get("/static/style.css", headers={"Range": "bytes=999999-", "Accept-Encoding": "identity"})
    assert answer.status_code == 416
    names = [name for name, _ in answer.headers.multi_items()]
    assert sorted({name for name in names if names.count(name) > 1}) == [], answer.headers
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert answer.headers["cache-control"] == FILE_POLICY


def test_a_visitor_over_the_limit_gets_429_with_each_header_once_and_kept_by_nobody(servers: Servers) -> None:
    """Another address holding more requests at once than nginx allows it: the next one is refused."""
    nginx_port = servers.ports[0][1]
    held: list[socket.socket] = []
    try:
        for _ in range(CLIENT_LIMITS["connections"] + 8):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # reads nothing: the answer stalls
            sock.bind(("127.0.0.2", 0))
            sock.settimeout(ANSWER_SECONDS)
            sock.connect((HOST, nginx_port))
            sock.sendall(f"GET /static/big.bin HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            held.append(sock)
        refused = wait_for(
            lambda: (answer := ask(nginx_port, FINGERPRINTED_STAMP, local="127.0.0.2")).status == 429 and answer,
            seconds=ANSWER_SECONDS,
            what="nginx to refuse a visitor over its limit",
        )
    finally:
        for sock in held:
            sock.close()
    assert refused.repeated() == [], refused.headers
    assert refused.header("cache-control") == MADE_FOR_THIS_REQUEST
    assert refused.header("content-type") == HTML
