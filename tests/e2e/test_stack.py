"""nginx in front of uvicorn workers, run for real with `python -m tools.stack`."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import RunningStack, is_running, require_program, run_stack, wait_for
from webapp.headers import SECURITY_HEADERS
from webapp.paths import PROJECT_ROOT
from webapp.static import file_etag


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def test_static_files_are_served_by_nginx_not_the_workers(stack: RunningStack) -> None:
    marker = uuid.uuid4().hex
    response = httpx.get(f"{stack.url}/static/index.html?marker={marker}")
    assert response.status_code == 200
    assert response.headers["x-served-by"] == "nginx"
    assert response.content == (PROJECT_ROOT / "static" / "index.html").read_bytes()
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    for worker_url in stack.worker_urls():
        logged = httpx.get(f"{worker_url}/api/requests?limit=1000").json()["requests"]
        assert not [entry for entry in logged if marker in entry["query"]], worker_url


def nginx_etag(stat: os.stat_result) -> str:
    """The ETag nginx sends for a file: hex mtime in whole seconds and hex size."""
    return f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'


def test_static_headers_match_the_app_policy(stack: RunningStack) -> None:
    path = PROJECT_ROOT / "static" / "style.css"
    # Uncompressed: gzip would turn nginx's ETag into a weak one, W/"...".
    identity = {"Accept-Encoding": "identity"}
    through_nginx = httpx.get(f"{stack.url}/static/style.css", headers=identity)
    direct = httpx.get(f"{stack.worker_urls()[0]}/static/style.css", headers=identity)
    # Each its own ETag (nginx's whole seconds, the app's nanoseconds): two origins, two browser caches.
    assert through_nginx.headers["etag"] == nginx_etag(path.stat())
    assert direct.headers["etag"] == file_etag(path.stat())
    assert through_nginx.headers["last-modified"] == direct.headers["last-modified"]
    assert through_nginx.headers["cache-control"] == direct.headers["cache-control"] == "no-cache"
    for etag in (through_nginx.headers["etag"], "W/" + through_nginx.headers["etag"]):
        again = httpx.get(f"{stack.url}/static/style.css", headers={"If-None-Match": etag})
        assert again.status_code == 304, etag


def test_text_is_gzipped_for_browsers_that_ask(stack: RunningStack) -> None:
    response = httpx.get(f"{stack.url}/static/style.css", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == (PROJECT_ROOT / "static" / "style.css").read_bytes()  # httpx decodes it


def test_dynamic_requests_are_spread_over_both_workers(stack: RunningStack) -> None:
    with httpx.Client(base_url=stack.url) as client:
        served_by = {client.get("/api/now").headers["x-served-by"] for _ in range(20)}
    assert served_by == {f"uvicorn pid {pid}" for pid in stack.worker_pids()}


def test_nginx_sends_the_home_address_to_the_static_page_with_the_sites_headers(stack: RunningStack) -> None:
    response = httpx.get(f"{stack.url}/")
    assert response.status_code == 307
    assert response.headers["location"] == "/static/index.html"  # a path: never a host from the request
    assert response.headers["x-served-by"] == "nginx"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def test_dynamic_page_through_nginx_says_so(stack: RunningStack) -> None:
    page = httpx.get(f"{stack.url}/dynamic").text
    assert "nginx → uvicorn (http)" in page


def test_https_with_the_generated_certificate(stack: RunningStack) -> None:
    context = ssl.create_default_context(cafile=stack.state["certificate"])
    # Connect from another loopback address, so the proxy's own address (127.0.0.1) cannot pass for ours.
    transport = httpx.HTTPTransport(verify=context, local_address="127.0.0.2")
    with httpx.Client(base_url=stack.state["https_url"], transport=transport) as client:
        seen = client.get("/api/inspect").json()
        page = client.get("/dynamic").text
    assert seen["scheme"] == "https"
    assert seen["client"]["host"] == "127.0.0.2"
    assert "nginx → uvicorn (https)" in page
    assert 'href="/static/style.css"' in page  # a path: it keeps the page's scheme and host by itself
    # The one full address on the page, the page in the other language, says https, not the workers' http.
    assert f'hreflang="en" href="{stack.state["https_url"]}/dynamic?lang=en"' in page


def test_plain_http_also_shows_the_real_client_address(stack: RunningStack) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=stack.url, transport=transport) as client:
        seen = client.get("/api/inspect").json()
        page = client.get("/dynamic?lang=en").text
    assert (seen["scheme"], seen["client"]["host"]) == ("http", "127.0.0.3")
    # uvicorn learns the address from nginx but not the port; the page says so instead of showing ":0".
    assert '<td id="client">127.0.0.3</td>' in page
    assert "nginx does not pass on your port" in page


def test_a_killed_worker_does_not_take_the_site_down(tmp_path: Path) -> None:
    with run_stack(tmp_path) as stack:
        victim = stack.state["workers"][0]
        results: list[int] = []
        stop = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(base_url=stack.url, timeout=5) as client:
                while not stop.is_set():
                    try:
                        results.append(client.get("/api/now").status_code)
                    except httpx.HTTPError:
                        results.append(0)

        threads = [threading.Thread(target=keep_asking) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        os.kill(victim["pid"], signal.SIGKILL)
        time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

        failures = len([status for status in results if status != 200])
        assert len(results) > 50
        assert failures <= len(threads), f"{failures} of {len(results)} requests failed"

        wait_for(
            lambda: victim["pid"] not in stack.worker_pids() and "restarted as pid" in stack.output(),
            seconds=10,
            what="the stack to restart the worker",
        )
        assert f"worker 1 (pid {victim['pid']}, port {victim['port']}) killed by SIGKILL" in stack.output()
        wait_for(
            lambda: (
                {httpx.get(f"{stack.url}/api/now").headers["x-served-by"] for _ in range(10)}
                == {f"uvicorn pid {pid}" for pid in stack.worker_pids()}
            ),
            seconds=10,
            what="both workers to answer again",
        )


def test_static_files_survive_every_worker_down(tmp_path: Path) -> None:
    with run_stack(tmp_path, "--no-restart") as stack:
        for pid in stack.worker_pids():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: stack.output().count("not restarting") == 2, seconds=5, what="both deaths to be reported")
        static = httpx.get(f"{stack.url}/static/index.html")
        assert static.status_code == 200
        assert static.headers["x-served-by"] == "nginx"
        # The address people type still leads to the home page: nginx answers it itself.
        home = httpx.get(f"{stack.url}/", follow_redirects=True)
        assert (home.status_code, home.content) == (200, static.content)
        assert [r.headers["x-served-by"] for r in [*home.history, home]] == ["nginx", "nginx"]
        assert httpx.get(f"{stack.url}/favicon.ico", follow_redirects=True).status_code == 200
        # nginx's 502 is a static page of the site that says what happened, with the site's headers.
        down = httpx.get(f"{stack.url}/api/now")
        assert down.status_code == 502
        assert "웹 애플리케이션 서버(WAS)가 응답하지 않습니다" in down.text and "Static files still work" in down.text
        assert down.headers["x-served-by"] == "nginx"
        for name, value in SECURITY_HEADERS.items():
            assert down.headers[name] == value


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_the_practice_stream_comes_through_nginx_as_it_happens(stack: RunningStack) -> None:
    """nginx buffers what it proxies: the stream's events must arrive one by one, not when a buffer fills."""
    with httpx.stream("GET", f"{stack.url}/practice/events", timeout=5) as events:
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        assert next(lines) == "event: hello"
        hello = json.loads(next(lines).removeprefix("data: "))
        assert hello["through_stack"] is True
        assert hello["reload"] == "off"  # the stack's workers never reload
        started = time.monotonic()
        assert "event: alive" in _lines_until(lines, "event: alive")
        assert time.monotonic() - started < 3  # one a second: a read timeout of 5 s would fail first


def _lines_until(lines: Iterator[str], wanted: str) -> list[str]:
    seen = []
    for line in lines:
        seen.append(line)
        if line == wanted:
            break
    return seen


def test_sigterm_stops_everything_cleanly(tmp_path: Path) -> None:
    with run_stack(tmp_path) as stack, httpx.stream("GET", f"{stack.url}/practice/events", timeout=20) as events:
        assert next(events.iter_lines()) == "event: hello"  # an open page: it must not hold up the stop
        nginx_pid = stack.state["nginx_pid"]
        everything = {nginx_pid, *stack.worker_pids(), *_children(nginx_pid)}
        assert len(everything) >= 4  # nginx master, its workers, two uvicorn workers
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(timeout=15) == 0
        assert "Stopped nginx and the workers." in stack.output()
        left = {pid for pid in everything if is_running(pid)}
        assert not left, f"still running: {left}"
        assert not (stack.run_dir / "stack.json").exists()


def test_missing_nginx_is_one_clear_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.stack", "--run-dir", str(tmp_path), "--nginx", str(tmp_path / "no-nginx")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "Cannot start the stack: " + (
        "nginx is not installed. Install it with sudo apt-get install nginx on Debian, Ubuntu or WSL, "
        "or with brew install nginx on macOS."
    )


def test_a_busy_port_is_one_clear_sentence_and_nothing_is_left_running(tmp_path: Path) -> None:
    require_program("nginx")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tools.stack", "--run-dir", str(tmp_path), "--http-port", str(port)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Cannot start the stack: port {port} on 127.0.0.1 is in use by another program: stop it, "
        f"or choose another port with --http-port {port + 1}"
    )
    assert not (tmp_path / "stack.json").exists()
    assert "worker" not in result.stdout
