"""Strangers on the stack: a client flooding it, a tunnel relaying visitors from 127.0.0.1, local programs
that claim to be nginx, and what the run folder keeps about visitors.

Real nginx and workers (tools.stack), a real forwarder on another loopback address (tests/forwarder.py),
visitors on 127.0.0.2 and 127.0.0.3. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.forwarder import forwarder
from tests.support import LiveServer, RunningStack, run_stack
from tools.processes import (
    HOST,
    child_environment,
    free_port,
    spawn,
    stop_process,
    uvicorn_command,
    wait_until_listening,
)

FIRST, SECOND, TUNNEL = "127.0.0.2", "127.0.0.3", "127.0.0.4"
TUNNEL_NAME = "tunnel.example"  # the public name a tunnel gives the site, as visitors type it
FLOOD_SECONDS = 10
FLOOD_LOG_BUDGET = 3 * 1024 * 1024  # "at most a few MB" of logs for 10 s of flood
LONG_NAME = "/static/" + "x" * 7900  # a missing file with a name nginx still takes (8 KiB request line)


def client(address: str, base_url: str, **kwargs: object) -> httpx.Client:
    """An HTTP client whose connections come from `address` (127.0.0.x), one connection per request."""
    transport = httpx.HTTPTransport(local_address=address)
    headers = {"Connection": "close", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.Client(base_url=base_url, transport=transport, timeout=10, headers=headers, **kwargs)  # type: ignore[arg-type]


def port_of(stack: RunningStack) -> int:
    return int(stack.url.rsplit(":", 1)[1])


def log_bytes(run_dir: Path) -> int:
    return sum(path.stat().st_size for path in run_dir.rglob("*.log*") if path.is_file())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_stack(tmp_path_factory.mktemp("stack"), "--server-name", TUNNEL_NAME) as running:
        yield running


# 1. Logs that cannot fill a disk.


def flood(port: int, seconds: float, counts: dict[str, int]) -> None:
    """Ask for a missing file with a long name as fast as one socket from FIRST can, for `seconds`."""
    request = f"GET {LONG_NAME} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            with socket.socket() as sock:
                sock.bind((FIRST, 0))
                sock.settimeout(2)
                sock.connect((HOST, port))
                for _ in range(100):
                    sock.sendall(request)
                    status = sock.recv(65536)[9:12].decode() or "closed"
                    counts[status] = counts.get(status, 0) + 1
                    if status == "closed" or time.monotonic() > until:
                        break
        except OSError:
            counts["error"] = counts.get("error", 0) + 1


def test_a_flood_of_long_missing_names_grows_the_logs_by_little_and_the_owner_is_served(
    stack: RunningStack,
) -> None:
    before = log_bytes(stack.run_dir)
    counts: dict[str, int] = {}
    flooders = [threading.Thread(target=flood, args=(port_of(stack), FLOOD_SECONDS, counts)) for _ in range(3)]
    for thread in flooders:
        thread.start()
    mine: list[int] = []
    with client(HOST, stack.url) as me:
        while any(thread.is_alive() for thread in flooders):
            for path in ("/static/index.html", "/ping", "/"):
                mine.append(me.get(path, follow_redirects=False).status_code)
            time.sleep(0.2)
    for thread in flooders:
        thread.join()
    time.sleep(1.5)  # nginx writes its access log at least once a second
    grown = log_bytes(stack.run_dir) - before
    assert counts.get("429", 0) > counts.get("404", 0), counts  # the flood was refused, not served
    assert grown <= FLOOD_LOG_BUDGET, f"{grown} bytes of logs for {counts}"
    assert set(mine) <= {200, 307} and len(mine) >= 20, mine


TOO_LARGE = (
    b"POST /api/guestbook?name=TOPSECRET HTTP/1.1\r\nHost: localhost\r\nReferer: http://x/" + b"r" * 1500
    + b"\r\nContent-Length: 99999999\r\n\r\n"
)  # fmt: skip
TLS_JUNK = bytes.fromhex("16030100050100000100")  # a ClientHello nginx cannot parse: an error line each


def refusals(port: int, payload: bytes, seconds: float, counts: dict[str, int]) -> None:
    """Send `payload` on a new connection from FIRST, as often as possible for `seconds`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with contextlib.suppress(OSError), socket.socket() as sock:
            sock.bind((FIRST, 0))
            sock.settimeout(1)
            sock.connect((HOST, port))
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(100)
            counts["sent"] = counts.get("sent", 0) + 1


def test_refusals_nginx_makes_before_any_limit_grow_the_logs_by_little_and_keep_no_query(
    stack: RunningStack,
) -> None:
    """A body too large is refused before the limits apply, and junk TLS fails before HTTP: nginx writes
    an error line for each, with the request line and Referer (130 MB in 20 s, ?name= included)."""
    before = log_bytes(stack.run_dir)
    counts: dict[str, int] = {}
    https_port = int(stack.state["https_url"].rsplit(":", 1)[1])
    targets = [(port_of(stack), TOO_LARGE)] * 2 + [(https_port, TLS_JUNK)]
    floods = [threading.Thread(target=refusals, args=(*target, FLOOD_SECONDS, counts)) for target in targets]
    for thread in floods:
        thread.start()
    for thread in floods:
        thread.join()
    time.sleep(1.5)
    grown = log_bytes(stack.run_dir) - before
    assert counts.get("sent", 0) > 1000, counts
    assert grown <= FLOOD_LOG_BUDGET, f"{grown} bytes of logs for {counts}"
    errors = (stack.run_dir / "nginx" / "error.log").read_text()
    assert "too large body" in errors and "TOPSECRET" not in errors and "rrrr" not in errors
    assert "error lines: more than" in errors  # the stack says how many it left out


# 4. What the run folder keeps, and who may read it.


def test_the_run_folder_is_private_and_its_logs_keep_no_query_or_user_agent(stack: RunningStack) -> None:
    with client(FIRST, stack.url, headers={"User-Agent": "Secret-Agent/1.0"}) as them:
        assert them.get("/dynamic", params={"name": "Jiwoo"}).status_code == 200
        assert them.get("/static/style.css", params={"q": "hidden-query"}).status_code == 200
    time.sleep(1.5)
    assert stat.S_IMODE(stack.run_dir.stat().st_mode) == 0o700
    for path in stack.run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        if path.is_file() and path.name.endswith((".log", ".log.1")):
            written = path.read_text(errors="replace")
            assert "Jiwoo" not in written and "hidden-query" not in written and "Secret-Agent" not in written, path
    lines = [json.loads(line) for line in (stack.run_dir / "nginx" / "access.log").read_text().splitlines()]
    theirs = [line for line in lines if line["address"] == FIRST]
    assert {line["path"] for line in theirs} >= {"/dynamic", "/static/style.css"}


# 2. The owner is known, not assumed: a tunnel that relays bytes (ssh -R).


def test_visitors_through_a_tunnel_are_not_the_owner_and_see_nothing_of_each_other(stack: RunningStack) -> None:
    with client(HOST, stack.url) as me:
        for _ in range(2):  # on both workers, round robin
            me.get("/dynamic", params={"name": "OwnerSecret"})
    with forwarder(TUNNEL, port_of(stack)) as tunnel_port:
        tunnel = f"http://{TUNNEL}:{tunnel_port}"
        host = {"Host": TUNNEL_NAME}
        with client(FIRST, tunnel, headers=host) as first, client(SECOND, tunnel, headers=host) as second:
            page = first.get("/dynamic", params={"name": "Jiwoo"}, headers={"User-Agent": "Jiwoo-Phone/1"})
            assert page.status_code == 200
            for _ in range(4):  # both workers, round robin
                for path in ("/log", "/api/requests", "/source/templates/dynamic.html"):
                    seen = second.get(path).text
                    assert "Jiwoo" not in seen and "OwnerSecret" not in seen, path
            # Nor by naming this machine in the request line: nginx's $host would take it from there.
            absolute = f"GET http://localhost/log HTTP/1.1\r\nHost: {TUNNEL_NAME}\r\nConnection: close\r\n\r\n"
            for _ in range(2):
                with socket.create_connection((TUNNEL, tunnel_port), timeout=5) as sock:
                    sock.sendall(absolute.encode())
                    answer = b"".join(iter(lambda: sock.recv(65536), b""))
                assert answer.startswith(b"HTTP/1.1 200") and b"OwnerSecret" not in answer
            # Not the owner: the per-address limits apply to everyone the tunnel relays.
            statuses = [second.get("/api/now").status_code for _ in range(80)]
            assert statuses.count(429) >= 10, statuses
        with client(HOST, stack.url) as me:
            # The owner, asking directly, is not limited by what the tunnel's visitors did ...
            assert all(me.get("/api/now").status_code == 200 for _ in range(40))
            # ... sees their own requests in full, and nothing of the visitors' (they came from 127.0.0.1 too).
            logs = [me.get("/log").text for _ in range(2)]
            assert not any("Jiwoo" in log for log in logs)
            assert any("name=OwnerSecret" in log for log in logs)


def test_a_local_program_cannot_pass_for_nginx_or_for_a_visitor(stack: RunningStack) -> None:
    with client(FIRST, stack.url) as them:
        them.get("/dynamic", params={"name": "Jiwoo"})
    claims = {"X-Forwarded-For": FIRST, "X-Proxy-Secret": "guess", "X-Site-Owner": "1"}
    for worker in stack.worker_urls():
        with httpx.Client(base_url=worker, headers=claims, timeout=10) as program:
            for path in ("/log", "/api/requests", "/source/templates/dynamic.html"):
                assert "Jiwoo" not in program.get(path).text, path
            page = program.get("/dynamic").text
            assert 'id="via">nginx' not in page and f'id="client">{FIRST}' not in page


@pytest.fixture(scope="module")
def stack_behind_a_tunnel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    options = ("--server-name", TUNNEL_NAME, "--trust-forwarded-header", "X-Forwarded-For")
    with run_stack(tmp_path_factory.mktemp("tunnelled"), *options) as running:
        yield running


def test_with_the_tunnels_header_trusted_its_visitors_are_told_apart(stack_behind_a_tunnel: RunningStack) -> None:
    stack = stack_behind_a_tunnel
    with forwarder(TUNNEL, port_of(stack), header="X-Forwarded-For") as tunnel_port:
        tunnel = f"http://{TUNNEL}:{tunnel_port}"
        host = {"Host": TUNNEL_NAME}
        with client(FIRST, tunnel, headers=host) as first, client(SECOND, tunnel, headers=host) as second:
            # A visitor's own X-Forwarded-For is not believed: only what the tunnel added.
            page = first.get("/dynamic", params={"name": "Jiwoo"}, headers={"X-Forwarded-For": "203.0.113.7"}).text
            assert re.search(rf'id="client">{re.escape(FIRST)}<', page), page[:2000]
            # Their own request in full, on whichever worker made the page (round robin: ask both).
            mine = [entry for _ in range(4) for entry in first.get("/api/requests").json()["requests"]]
            assert any(entry["query"] == "name=Jiwoo" and entry["yours"] for entry in mine), mine
            for _ in range(4):
                assert "Jiwoo" not in second.get("/api/requests").text
            # Each visitor has their own allowance: one spending theirs leaves the other's.
            statuses = [first.get("/api/now").status_code for _ in range(80)]
            assert statuses.count(429) >= 10, statuses
            assert second.get("/api/now").status_code == 200


def test_a_direct_uvicorn_believes_no_forwarded_address(live_server: LiveServer) -> None:
    """uvicorn's own --proxy-headers (on by default) would take X-Forwarded-For from any local program."""
    with client(FIRST, live_server.url) as them:
        them.get("/dynamic", params={"name": "Jiwoo"})
    with httpx.Client(base_url=live_server.url, headers={"X-Forwarded-For": FIRST}, timeout=10) as program:
        assert "Jiwoo" not in program.get("/log").text
        assert "Jiwoo" not in program.get("/api/requests").text
        assert f'id="client">{FIRST}' not in program.get("/dynamic").text


# 1. The same bound on a uvicorn of its own.

FILE_LIMIT = 64  # a uvicorn allowed this many open files: a client holding more sockets runs it out


def test_a_uvicorn_out_of_file_descriptors_writes_one_line_per_ten_seconds_not_a_flood(tmp_path: Path) -> None:
    port = free_port()
    limited = (
        f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({FILE_LIMIT}, {FILE_LIMIT})); "
        "os.execv(sys.executable, sys.argv[1:])"
    )
    log_path = tmp_path / "uvicorn.log"
    with open(log_path, "wb") as log:
        command = [sys.executable, "-c", limited, *uvicorn_command(port)]
        process = spawn(command, cwd=tmp_path, env=child_environment({}), stdout=log, stderr=subprocess.STDOUT)
    held: list[socket.socket] = []
    try:
        wait_until_listening(port, process, "uvicorn")
        for _ in range(FILE_LIMIT + 20):  # more sockets than it may have files
            with contextlib.suppress(OSError):
                held.append(socket.create_connection((HOST, port), timeout=1))
        until = time.monotonic() + 5
        while time.monotonic() < until:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5) as extra:
                extra.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
        written = log_path.read_text(errors="replace")
        assert written.count("out of system resource") <= 2, written[-2000:]
        assert log_path.stat().st_size < 200_000, log_path.stat().st_size  # it was 18 MB in 8 s
    finally:
        for sock in held:
            sock.close()
        stop_process(process)


# 10. A body that trickles in is cut after a total bound, through nginx too.

BODY_SECONDS = 10  # the whole body within this long after the head (webapp/limits.py)


def test_a_body_trickling_in_through_nginx_is_cut_after_ten_seconds(stack: RunningStack) -> None:
    body = b"name=slow&message=" + b"x" * 100
    head = (
        "POST /guestbook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.socket() as sock:
        sock.bind((FIRST, 0))
        sock.settimeout(1)
        sock.connect((HOST, port_of(stack)))
        sock.sendall(head)
        started = time.monotonic()
        answer = b""
        for byte in body:
            with contextlib.suppress(OSError):
                sock.sendall(bytes([byte]))
            with contextlib.suppress(TimeoutError, OSError):
                answer += sock.recv(65536)
            if answer or time.monotonic() - started > BODY_SECONDS + 10:
                break
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert BODY_SECONDS - 1 <= waited <= BODY_SECONDS + 5, waited
