"""Between static and dynamic (/spectrum), for real: uvicorn alone, the stack's nginx, and Chromium."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.cachelint import ALLOWED, SAMPLES, STREAMS, caching_complaints
from tests.e2e.pageproblems import PageProblems
from tests.support import LiveServer, RunningStack, copy_project, run_site, run_stack
from webapp import caching
from webapp.paths import PROJECT_ROOT, STATIC_DIR

FINGERPRINTED = re.compile(r"/static/(stamp|spectrum)\.[0-9a-f]{10}\.(svg|js)")
STAMP = re.compile(r"/static/stamp\.[0-9a-f]{10}\.svg")
PRERENDERED = "/static/prerendered/dynamic.html"
A_WORKER = re.compile(r"uvicorn pid \d+")
NGINX_LOG_FLUSH_SECONDS = 1.5  # the stack's nginx writes its access log at least once a second


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the site, free to edit (a deploy) and to pre-render into."""
    return copy_project(tmp_path_factory.mktemp("spectrum") / "project")


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[LiveServer]:
    """uvicorn alone, serving the copy."""
    with run_site(cwd=project, app_dir=project, env={"DATABASE_URL": f"sqlite:///{project / 'site.db'}"}) as live:
        yield live


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def _log_lines(server: LiveServer) -> list[str]:
    return server.output().splitlines()


def _nginx_log(stack: RunningStack) -> list[dict[str, Any]]:
    """nginx's access log: one JSON object per answer (tools/nginx_conf/site.conf.j2, log_format site)."""
    return [json.loads(line) for line in (stack.run_dir / "nginx" / "access.log").read_text().splitlines()]


@dataclass
class NetworkEvents:
    """What Chromium's DevTools protocol says about each URL a page loads: from its cache, or over the network."""

    urls: dict[str, str] = field(default_factory=dict)  # request id: URL
    from_cache: set[str] = field(default_factory=set)
    from_network: set[str] = field(default_factory=set)

    def watch(self, page: Page) -> NetworkEvents:
        session = page.context.new_cdp_session(page)
        session.send("Network.enable")
        session.on("Network.requestWillBeSent", self._will_be_sent)
        session.on("Network.requestServedFromCache", self._served_from_cache)  # the memory cache
        session.on("Network.responseReceived", self._response_received)
        return self

    def _will_be_sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def _served_from_cache(self, event: dict[str, Any]) -> None:
        self.from_cache.add(self.urls.get(event["requestId"], ""))

    def _response_received(self, event: dict[str, Any]) -> None:
        url, served = event["response"]["url"], self.urls.get(event["requestId"], "") in self.from_cache
        if event["response"].get("fromDiskCache") or served:
            self.from_cache.add(url)
        else:
            self.from_network.add(url)


def _wait_for_demos(page: Page) -> None:
    """Until every demo on /spectrum has said what it saw, and every policy cell is filled in."""
    expect(page.locator(".demo .summary").filter(has_text=re.compile(r"^$|…$"))).to_have_count(0, timeout=20_000)
    expect(page.locator("td.policy").filter(has_text="…")).to_have_count(0, timeout=10_000)


# uvicorn alone: every step that needs no nginx works, and those that do say so.


def test_straight_from_uvicorn_the_page_says_which_steps_need_nginx(chromium: Browser, server: LiveServer) -> None:
    context = chromium.new_context(locale="ko-KR")
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{server.url}/spectrum")
    _wait_for_demos(page)
    expect(page.locator("#where")).to_contain_text("uvicorn에서 바로")
    expect(page.locator("#where a")).to_have_attribute("href", "http://127.0.0.1:8080/spectrum")
    expect(page.locator("#micro-cache .summary")).to_contain_text("X-Cache-Status 없음")
    expect(page.locator("#compression .summary")).to_contain_text("압축하지 않음")
    expect(page.locator("#revalidated .summary")).to_contain_text("304 Not Modified 2번")
    context.close()
    problems.assert_none()


def test_a_reload_asks_nothing_for_a_fingerprinted_file_but_revalidates_the_rest(
    chromium: Browser, server: LiveServer
) -> None:
    context = chromium.new_context(locale="ko-KR")
    page = context.new_page()
    page.goto(f"{server.url}/spectrum")
    _wait_for_demos(page)
    fingerprinted = {match.group(0) for match in FINGERPRINTED.finditer(page.content())}
    assert len(fingerprinted) == 2, fingerprinted
    events = NetworkEvents().watch(page)
    lines_before = len(_log_lines(server))
    page.reload()
    _wait_for_demos(page)
    after = "\n".join(_log_lines(server)[lines_before:])
    rows = page.locator(".resources tbody tr").all_inner_texts()
    context.close()

    for path in fingerprinted:
        assert f"GET {path} " not in after, f"{path} was asked for on reload"
        assert f"{server.url}{path}" in events.from_cache, f"Chromium did not take {path} from its cache"
        assert f"{server.url}{path}" not in events.from_network
    assert '"GET /static/style.css HTTP/1.1" 304' in after  # no-cache: asked, and not modified
    assert f"{server.url}/static/style.css" in events.from_network
    stamp_row = next(row for row in rows if "/static/stamp." in row)
    assert "브라우저 캐시에서 꺼냄: 요청 없음" in stamp_row
    style_row = next(row for row in rows if "/static/style.css" in row)
    assert "304" in style_row


def test_a_deploy_gives_the_file_a_new_name_and_the_browser_fetches_it_at_once(
    page: Page, server: LiveServer, project: Path
) -> None:
    page.goto(f"{server.url}/spectrum")
    old = STAMP.search(page.content())
    assert old
    stamp = project / "static" / "stamp.svg"
    original = stamp.read_text()
    try:
        stamp.write_text(original.replace("v1", "v2"))
        with page.expect_response(STAMP) as response_info:
            page.reload()
        response = response_info.value
        new = STAMP.search(page.content())
        assert new and new.group(0) != old.group(0)
        assert response.url.endswith(new.group(0)) and response.status == 200
        assert b"stamp.svg v2" in response.body()
        expect(page.locator(".stamp figcaption")).to_have_text(new.group(0))
    finally:
        stamp.write_text(original)


def test_the_pre_render_command_writes_the_bytes_the_page_rendered(
    chromium: Browser, server: LiveServer, project: Path
) -> None:
    static_dir = project / "static"
    result = subprocess.run(
        [sys.executable, "-m", "tools.prerender", "--static-dir", str(static_dir)],
        cwd=PROJECT_ROOT,
        env={"DATABASE_URL": f"sqlite:///{project / 'site.db'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    written = static_dir / "prerendered" / "dynamic.html"
    reported = re.search(
        r"dynamic\.html\s+[\d,]+ bytes\s+sha256 ([0-9a-f]{12})…\s+from GET /dynamic\?lang=ko", result.stdout
    )
    assert reported, result.stdout
    on_disk = written.read_bytes()
    assert hashlib.sha256(on_disk).hexdigest().startswith(reported.group(1))
    assert gzip.decompress((static_dir / "prerendered" / "dynamic.html.gz").read_bytes()) == on_disk
    assert f"served at {PRERENDERED}" in result.stdout

    first, second = httpx.get(f"{server.url}{PRERENDERED}"), httpx.get(f"{server.url}{PRERENDERED}")
    assert first.content == second.content == on_disk  # the same bytes every time: the page the command rendered
    assert first.headers["cache-control"] == "no-cache"
    again = httpx.get(f"{server.url}{PRERENDERED}", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    live = [httpx.get(f"{server.url}/dynamic").text for _ in range(2)]
    assert live[0] != live[1]

    context = chromium.new_context(locale="ko-KR")
    page = context.new_page()
    page.goto(f"{server.url}/spectrum")
    _wait_for_demos(page)
    frozen = page.locator("#prerendered .demo").first
    expect(frozen.locator(".summary")).to_contain_text("3번 모두 본문이 같았습니다")
    expect(page.locator("#prerendered .demo").nth(1).locator(".summary")).to_contain_text("본문이 3가지로 달랐습니다")
    page.goto(f"{server.url}{PRERENDERED}")
    expect(page.locator("#prerendered-notice")).to_contain_text("새로고침해도 바뀌지 않습니다")
    frozen_time = page.locator("#server-time").inner_text()
    page.reload()
    assert page.locator("#server-time").inner_text() == frozen_time  # the time froze at the build
    page.get_by_role("link", name="English", exact=True).click()  # the other language's file, on this host
    expect(page).to_have_url(f"{server.url}/static/prerendered/en/dynamic.html")
    expect(page.locator("#prerendered-notice")).to_contain_text("reloading does not change them")
    context.close()


def test_the_command_refuses_to_overwrite_a_hand_written_file(project: Path, tmp_path: Path) -> None:
    static_dir = tmp_path / "static"
    (static_dir / "prerendered").mkdir(parents=True)
    mine = static_dir / "prerendered" / "dynamic.html"
    mine.write_text("<p>written by hand</p>")
    result = subprocess.run(
        [sys.executable, "-m", "tools.prerender", "--static-dir", str(static_dir)],
        cwd=PROJECT_ROOT,
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "was not written by this command" in result.stderr
    assert mine.read_text() == "<p>written by hand</p>"
    outside = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.prerender",
            "--static-dir",
            str(static_dir),
            "--out",
            str(tmp_path / "elsewhere"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert outside.returncode == 2 and "inside" in outside.stderr
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("path", "same_document"),
    [
        ("/static/clock.html", "3번 요청했고, 문서는 바뀌지 않았습니다"),
        ("/static/en/clock.html", "3; the document has not changed"),
    ],
)
def test_a_static_page_with_fetched_data_keeps_its_hash_while_the_data_changes(
    page: Page, server: LiveServer, problems: PageProblems, path: str, same_document: str
) -> None:
    page.goto(f"{server.url}{path}")
    document_hashes, data_hashes, times, statuses = set(), set(), set(), []
    previous = "…"
    for round in range(3):
        if round:
            page.locator("#fetch-again").click()
        expect(page.locator("#data-hash")).not_to_have_text(previous)
        expect(page.locator("#fetch-again")).to_be_enabled()
        previous = page.locator("#data-hash").inner_text()
        data_hashes.add(previous)
        document_hashes.add(page.locator("#document-hash").inner_text())
        times.add(page.locator("#data-time").inner_text())
        statuses.append(page.locator("#document-status").inner_text())
    served = hashlib.sha256(httpx.get(f"{server.url}{path}").content).hexdigest()
    assert document_hashes == {served[:8]}  # the document: the file's own bytes, every time
    assert len(data_hashes) == 3 and len(times) == 3  # the data: new every time
    assert "304" in statuses[-1]
    expect(page.locator("#document-summary")).to_contain_text(same_document)
    problems.assert_none()


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("path", ["/spectrum", "/dynamic/shared", "/static/clock.html", "/static/en/clock.html"])
def test_no_serious_accessibility_violations_on_the_new_pages(
    chromium: Browser, server: LiveServer, stack: RunningStack, path: str, language: str
) -> None:
    for base in (server.url, stack.url):
        context = chromium.new_context(locale=language)
        page = context.new_page()
        page.goto(f"{base}{path}{'' if path.startswith('/static/') else f'?lang={language}'}")
        if path == "/spectrum":
            _wait_for_demos(page)
        violations = Axe().run(page).response["violations"]
        context.close()
        serious = [(v["id"], v["help"]) for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], base


# Through the stack's nginx: the micro-cache, the pre-rendered file and compression.


def test_nginx_keeps_the_shared_page_a_second_miss_hit_expired(stack: RunningStack) -> None:
    url = f"{stack.url}/dynamic/shared?lang=en&probe={time.monotonic_ns()}"
    with httpx.Client(timeout=10) as client:
        first = client.get(url)
        hits = [client.get(url) for _ in range(3)]
        time.sleep(caching.SHARED_SECONDS + 1.1)  # nginx counts whole seconds: a copy lasts 1 to 2 s
        later = client.get(url)
    assert first.headers["x-cache-status"] == "MISS"
    assert [hit.headers["x-cache-status"] for hit in hits] == ["HIT"] * 3
    assert {hit.content for hit in hits} == {first.content}  # the same bytes, from nginx
    assert later.headers["x-cache-status"] == "EXPIRED"
    assert later.content != first.content  # a worker made it again: a new time and request number
    assert first.headers["cache-control"] == caching.SHARED_PAGE
    # Who answered this time: the worker that made the page, then nginx giving its copy (not the copy's
    # own X-Served-By, which names the worker that made it), then a worker again.
    for made in (first, later):
        [served_by] = made.headers.get_list("x-served-by")
        assert A_WORKER.fullmatch(served_by), served_by
    assert [hit.headers.get_list("x-served-by") for hit in hits] == [["nginx (cache)"]] * 3


def test_two_names_are_two_pages_and_no_other_page_is_cached(stack: RunningStack) -> None:
    probe = time.monotonic_ns()
    alice = httpx.get(f"{stack.url}/dynamic/shared?name=Alice{probe}")
    bob = httpx.get(f"{stack.url}/dynamic/shared?name=Bob{probe}", headers={"cookie": "lang=en"})
    assert alice.headers["x-cache-status"] == bob.headers["x-cache-status"] == "MISS"
    assert f"Alice{probe}" in alice.text and f"Alice{probe}" not in bob.text and f"Bob{probe}" in bob.text
    assert '<html lang="ko">' in bob.text  # the cookie never reached the worker: the address alone decides
    for path in ("/dynamic", "/dynamic?name=Alice", "/spectrum", "/guestbook", "/log", "/api/now", "/ping"):
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            first, second = client.get(path), client.get(path)
        assert "x-cache-status" not in first.headers and "x-cache-status" not in second.headers, path
        assert first.headers["cache-control"] == caching.MADE_FOR_THIS_REQUEST, path


def test_another_visitor_never_gets_a_page_made_for_someone_else(stack: RunningStack) -> None:
    secret = f"Visitor-{time.monotonic_ns()}"
    mine = httpx.get(f"{stack.url}/dynamic", headers={"user-agent": secret})
    assert secret in mine.text
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, timeout=10) as other:
        theirs = [other.get(f"{stack.url}{path}").text for path in ("/dynamic", "/dynamic/shared", "/log")]
    assert all(secret not in text for text in theirs)


def test_the_pre_rendered_file_comes_from_nginx_compressed_once(stack: RunningStack) -> None:
    on_disk = (STATIC_DIR / "prerendered" / "dynamic.html").read_bytes()
    assert f"served at {PRERENDERED}" in stack.output()  # the stack built it as it started
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        plain = client.get(PRERENDERED, headers={"accept-encoding": "identity"})
        packed = client.get(PRERENDERED, headers={"accept-encoding": "gzip"})
        revalidated = [
            client.get(PRERENDERED, headers={"accept-encoding": encoding, "if-none-match": response.headers["etag"]})
            for encoding, response in (("identity", plain), ("gzip", packed))
        ]
        on_the_fly = client.get("/static/index.html", headers={"accept-encoding": "gzip"})
    assert plain.content == on_disk and plain.headers["x-served-by"] == "nginx"
    assert [response.status_code for response in revalidated] == [304, 304]
    # gzip_static: the .gz made beforehand, its length known, the ETag strong.
    assert packed.headers["content-encoding"] == "gzip" and packed.content == on_disk
    assert int(packed.headers["content-length"]) == (STATIC_DIR / "prerendered" / "dynamic.html.gz").stat().st_size
    assert not packed.headers["etag"].startswith("W/")
    # gzip on: compressed as it is sent, so no length in advance and a weak ETag.
    assert on_the_fly.headers["content-encoding"] == "gzip" and "content-length" not in on_the_fly.headers
    assert on_the_fly.headers["etag"].startswith('W/"')


def test_a_reload_through_nginx_asks_nothing_for_a_fingerprinted_file(chromium: Browser, stack: RunningStack) -> None:
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{stack.url}/spectrum?lang=en")
    _wait_for_demos(page)
    stamp = STAMP.search(page.content())
    assert stamp
    time.sleep(NGINX_LOG_FLUSH_SECONDS)
    before = len(_nginx_log(stack))
    page.reload()
    _wait_for_demos(page)
    time.sleep(NGINX_LOG_FLUSH_SECONDS)
    after = {(line["path"], line["status"]) for line in _nginx_log(stack)[before:]}
    context.close()
    assert not any(path == stamp.group(0) for path, _status in after)
    assert ("/static/style.css", 304) in after


def test_every_step_works_through_the_stack(chromium: Browser, stack: RunningStack) -> None:
    context = chromium.new_context(locale="ko-KR")
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{stack.url}/spectrum")
    _wait_for_demos(page)
    expect(page.locator("#where")).to_contain_text("nginx를 거쳐")
    statuses = page.locator("#micro-cache tbody tr td:nth-child(4)").all_inner_texts()
    hashes = page.locator("#micro-cache tbody tr td:nth-child(3)").all_inner_texts()
    served_by = page.locator("#micro-cache tbody tr td:nth-child(6)").all_inner_texts()
    compressed = page.locator("#compression .summary").all_inner_texts()
    prerendered = page.locator("#prerendered .demo").first.locator("tbody tr td:nth-child(7)").all_inner_texts()
    context.close()
    problems.assert_none()
    # 12 fetches 0.25 s apart: the first made by a worker, then copies, and after 1 to 2 s a worker again.
    assert statuses[0] in ("MISS", "EXPIRED") and "HIT" in statuses
    assert any(status in ("EXPIRED", "MISS") for status in statuses[1:]), statuses
    for index, status in enumerate(statuses[1:], start=1):
        if status == "HIT":
            assert hashes[index] == hashes[index - 1], (statuses, hashes)
    # Beside HIT the table names nginx, which answered, not the pid of the worker that made the copy.
    for status, who in zip(statuses, served_by, strict=True):
        if status in ("MISS", "EXPIRED"):
            assert re.fullmatch(r"pid \d+", who), (statuses, served_by)
        else:
            assert "nginx" in who and "pid" not in who, (statuses, served_by)
    assert "Content-Encoding: gzip" in compressed[0] and "W/" not in compressed[0]
    assert "W/" in compressed[1]
    assert set(prerendered) == {"nginx"}


def test_redbots_rules_find_nothing_on_any_route_through_either_server(server: LiveServer, stack: RunningStack) -> None:
    for base in (server.url, stack.url):
        spectrum = httpx.get(f"{base}/spectrum").text
        stamp = STAMP.search(spectrum)
        assert stamp
        samples = {**SAMPLES, stamp.group(0): caching.FINGERPRINTED}
        with httpx.Client(base_url=base, timeout=10) as client:
            for path, policy in samples.items():
                if path in STREAMS:  # the owner's stream stays open: its headers are all there is to check
                    with client.stream("GET", path) as stream:
                        assert stream.headers.get("cache-control") == policy, (base, path)
                    continue
                response = client.get(path)
                assert response.headers.get("cache-control") == policy, (base, path)
                allowed = ALLOWED.get(policy, set())
                notes = caching_complaints(response.status_code, list(response.headers.multi_items()), response.content)
                assert [note for note in notes if note.split(":")[0] not in allowed] == [], (base, path)
