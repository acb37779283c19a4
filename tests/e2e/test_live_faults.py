"""/live when things go wrong, as the class sees it: a worker killed and back, every worker down, the class
options in the terminal, students from another network, and a uvicorn alone that reloads and stops with a
projector page open. Real processes: the stack (nginx and its workers), uvicorn, a network namespace.

Traffic goes to loopback addresses and to the addresses of the namespace this file makes, nowhere else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    README_RELOAD_ARGS,
    LiveServer,
    RunningStack,
    copy_project,
    run_site,
    run_stack,
    wait_for,
)
from tools.stack import CLASS_LIMITS, LIMIT_REASONS
from webapp import network
from webapp.paths import PROJECT_ROOT
from webapp.terminal import text as _

CLASS_ADDRESS = "127.0.0.7"  # what the class stack listens on besides 127.0.0.1 (a stand-in for a LAN address)
STUDENT = "127.0.0.2"  # another visitor on this machine
READ_SECONDS = 5.0  # one read of a stream: the stream sends "alive" every 2 s
EVENT_SECONDS = 10.0  # a worker's death, return or a request to reach an open stream (1 s expected)
FAIL_FAST_SECONDS = 5.0  # /live/events with no worker: nginx's connect timeout is 1 s, a refusal is instant
STOP_SECONDS = 5.0  # Ctrl+C with a stream open (the stream looks every 0.25 s whether the server stops)
SAVE_SECONDS = 5.0  # a code save to the stream ending itself (the reloader stops the process about 0.3 s after)
RELOAD_SECONDS = 15.0  # a code save to a new process answering (about a second here; CI may be slower)
# The namespace's networks: /30s of this test's own making, used only if nothing on this machine is on them.
NAMESPACE_NETWORKS = [ipaddress.IPv4Network(f"10.213.{third}.0/30") for third in (77, 78, 79, 80, 81)]
COMMAND_SECONDS = 15
PAGE_RETRY_SECONDS = 3  # static/live.js asks again after a refused stream (without Retry-After)


# Reading /live/events as a browser's EventSource does.


@dataclass
class Event:
    name: str
    data: dict[str, Any]
    id: str | None


@dataclass
class EventReader:
    """One open /live/events: its events as they arrive, and everything it sent, as text."""

    response: httpx.Response
    events: list[Event] = field(default_factory=list)
    text: str = ""
    last_id: str = ""  # what a browser sends back as Last-Event-ID when it reconnects
    _lines: Iterator[str] | None = None

    def next(self) -> Event:
        """The next event; raises httpx.HTTPError or StopIteration when the stream ends."""
        if self._lines is None:
            self._lines = self.response.iter_lines()
        name, data, event_id = "message", "", None
        for line in self._lines:
            self.text += line + "\n"
            if line == "":
                if data:
                    event = Event(name, json.loads(data), event_id)
                    self.events.append(event)
                    self.last_id = event_id or self.last_id
                    return event
                continue
            field_name, _colon, value = line.partition(":")
            value = value.removeprefix(" ")
            if field_name == "event":
                name = value
            elif field_name == "data":
                data += value
            elif field_name == "id":
                event_id = value
        raise StopIteration

    def wait_for(self, wanted: Callable[[Event], bool], what: str, *, since: int = 0) -> Event:
        """The first event from number `since` on that is `wanted`, reading on for at most EVENT_SECONDS."""
        deadline = time.monotonic() + EVENT_SECONDS
        checked = since
        while True:
            for event in self.events[checked:]:
                if wanted(event):
                    return event
            checked = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {EVENT_SECONDS:.0f} s; the stream sent:\n{self.text}")
            try:
                self.next()
            except (httpx.HTTPError, StopIteration) as ended:
                raise AssertionError(f"the stream ended ({ended!r}) before {what}; it sent:\n{self.text}") from None

    def ends(self, seconds: float = EVENT_SECONDS) -> bool:
        """Whether the stream ends (the connection closes) within `seconds`."""
        deadline = time.monotonic() + seconds
        with contextlib.suppress(httpx.HTTPError, StopIteration):
            while time.monotonic() < deadline:
                self.next()
            return False
        return True


@contextlib.contextmanager
def live_events(base_url: str, *, last_event_id: str = "", retry_seconds: float = 0) -> Iterator[EventReader]:
    """/live/events opened as the page opens it; refused (a 502 while workers restart, a 429), asked again
    after Retry-After or 3 s as static/live.js does, for at most `retry_seconds`."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    deadline = time.monotonic() + retry_seconds
    with httpx.Client(timeout=httpx.Timeout(READ_SECONDS), trust_env=False) as client:
        while True:
            with client.stream("GET", f"{base_url}/live/events", headers=headers) as response:
                if response.status_code == 200:
                    reader = EventReader(response)
                    assert reader.next().name == "hello", reader.text
                    yield reader
                    return
                refused = f"{response.status_code}: {response.read()[:300]!r}"
                wait = float(response.headers.get("retry-after", PAGE_RETRY_SECONDS))
            if time.monotonic() + wait > deadline:
                raise AssertionError(f"/live/events refused ({refused})")
            time.sleep(wait)


def is_request(path: str, **facts: Any) -> Callable[[Event], bool]:
    return lambda event: (
        event.name == "request"
        and event.data["path"] == path
        and all(event.data.get(name) == value for name, value in facts.items())
    )


def is_worker_event(what: str, number: int) -> Callable[[Event], bool]:
    return lambda event: event.name == "worker" and event.data["what"] == what and event.data["number"] == number


def visitor(address: str, base_url: str) -> httpx.Client:
    """An HTTP client whose connections come from `address` (127.0.0.x), as a different visitor's would."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=10, trust_env=False)


def port_of(stack: RunningStack) -> int:
    port = httpx.URL(stack.url).port
    assert port is not None
    return port


# Students on another network: a network namespace joined to this one by a veth pair.


@dataclass
class StudentNetwork:
    """Where the class stack listens for students, and how a student there asks for a page."""

    listen: str  # the stack's address on the students' network
    student: str  # the student's own address (never to be seen on /live)
    fetch: Callable[[list[str]], list[int]]  # GET each URL from the student's side; the statuses
    why_not_a_namespace: str = ""  # empty when the student really is in another network namespace


FETCH_SCRIPT = """
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from the environment
for url in sys.argv[1:]:
    try:
        print(opener.open(url, timeout=5).status)
    except urllib.error.HTTPError as error:
        print(error.code)
"""


def why_no_namespace() -> str:
    if sys.platform != "linux":
        return "network namespaces are Linux's"
    if os.geteuid() != 0:
        return "making a network namespace needs root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the ip command is not installed (on Debian: apt-get install iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=COMMAND_SECONDS)
    if probe.returncode:
        return f"ip netns does not work here: {probe.stderr.strip()}"
    return ""


def networks_in_use() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this machine has an address or a route on (the default route aside)."""
    found = []
    addresses = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True)
    for line in addresses.stdout.splitlines():
        words = line.split()
        found.append(ipaddress.IPv4Interface(words[words.index("inet") + 1]).network)
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True, check=True)
    for line in routes.stdout.splitlines():
        for word in line.split()[:2]:
            with contextlib.suppress(ValueError):
                found.append(ipaddress.IPv4Network(word, strict=False))
                break
    return found


def free_network() -> ipaddress.IPv4Network | None:
    used = networks_in_use()
    return next((net for net in NAMESPACE_NETWORKS if not any(net.overlaps(other) for other in used)), None)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=COMMAND_SECONDS)


@contextlib.contextmanager
def namespace_network(subnet: ipaddress.IPv4Network) -> Iterator[StudentNetwork]:
    """A network namespace with a veth pair: `listen` on this side, `student` inside; removed afterwards."""
    host_side, inside = (str(address) for address in list(subnet.hosts())[:2])
    suffix = os.getpid() % 100_000
    namespace, host_link, student_link = f"live21-{suffix}", f"l21h{suffix}", f"l21s{suffix}"

    def fetch(urls: list[str]) -> list[int]:
        command = ["ip", "netns", "exec", namespace, sys.executable, "-c", FETCH_SCRIPT, *urls]
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_SECONDS, check=True)
        return [int(status) for status in done.stdout.split()]

    try:
        ip("netns", "add", namespace)
        ip("link", "add", host_link, "type", "veth", "peer", "name", student_link)
        ip("link", "set", student_link, "netns", namespace)
        ip("addr", "add", f"{host_side}/{subnet.prefixlen}", "dev", host_link)
        ip("link", "set", host_link, "up")
        ip("-n", namespace, "addr", "add", f"{inside}/{subnet.prefixlen}", "dev", student_link)
        ip("-n", namespace, "link", "set", student_link, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        yield StudentNetwork(host_side, inside, fetch)
    finally:
        for command in (["link", "del", host_link], ["netns", "del", namespace]):
            subprocess.run(["ip", *command], capture_output=True, timeout=COMMAND_SECONDS)


def loopback_student(listen: str, student: str, why: str) -> StudentNetwork:
    def fetch(urls: list[str]) -> list[int]:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=student), timeout=10, trust_env=False) as c:
            return [c.get(url).status_code for url in urls]

    return StudentNetwork(listen, student, fetch, why)


@pytest.fixture(scope="module")
def students() -> Iterator[StudentNetwork]:
    why = why_no_namespace()
    subnet = None if why else free_network()
    if subnet is None:
        why = why or f"every network this test may use ({NAMESPACE_NETWORKS[0]} …) is in use on this machine"
        yield loopback_student(CLASS_ADDRESS, "127.0.0.9", why)
        return
    with namespace_network(subnet) as made:
        yield made


@pytest.fixture(scope="module")
def class_stack(tmp_path_factory: pytest.TempPathFactory, students: StudentNetwork) -> Iterator[RunningStack]:
    """The stack as an instructor starts it for a class, on a stand-in LAN address (and the students' network)."""
    listen = ["--listen", CLASS_ADDRESS]
    if students.listen != CLASS_ADDRESS:
        listen += ["--listen", students.listen]
    with run_stack(tmp_path_factory.mktemp("class"), "--class", *listen) as stack:
        yield stack


# The class options, as the terminal prints them.


def test_class_mode_prints_the_address_a_qr_code_and_each_limit_with_its_reason(class_stack: RunningStack) -> None:
    port = port_of(class_stack)
    url = f"http://{CLASS_ADDRESS}:{port}/"
    output = class_stack.output()
    assert _("Students open (on the same network as this machine):") + f"\n  {url}\n" in output
    assert network.qr_terminal(url) in output  # the QR code of the first address, in block characters
    assert "█" in network.qr_terminal(url)
    assert _("The live view for the projector: %(url)s") % {"url": f"{url}live"} in output
    for name, value in CLASS_LIMITS.items():
        line = next((line for line in output.splitlines() if line.startswith(f"  {value:,} ")), "")
        assert line.endswith(_(LIMIT_REASONS[name])), f"{name}: {line!r}\n{output}"
    # Students type that address: the stack answers to it (files from nginx, pages from a worker).
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        style = client.get("/static/style.css")
        assert (style.status_code, style.headers["x-served-by"]) == (200, "nginx")
        page = client.get("/dynamic")
        assert page.status_code == 200 and page.headers["x-served-by"].startswith("uvicorn pid ")
        # A name nobody gave this server still gets no answer.
        with pytest.raises(httpx.TransportError):  # closed without a word (444)
            client.get("/static/style.css", headers={"Host": "elsewhere.example"})


def print_config(tmp_path: Path, *options: str) -> str:
    command = [sys.executable, "-m", "tools.stack", "--print-config", "--run-dir", str(tmp_path), *options]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def test_only_class_mode_raises_the_limits_and_listens_beyond_this_machine(tmp_path: Path) -> None:
    ordinary, for_a_class = print_config(tmp_path), print_config(tmp_path, "--class")
    assert "limit_conn connections_per_address 32;" in ordinary
    assert "limit_conn live_streams_per_address 6;" in ordinary
    assert "listen 127.0.0.1:8080;" in ordinary and "0.0.0.0" not in ordinary
    assert "limit_conn connections_per_address 400;" in for_a_class
    assert "limit_conn live_streams_per_address 70;" in for_a_class
    assert "listen 0.0.0.0:8080;" in for_a_class and "listen 127.0.0.1:8080;" not in for_a_class


# Students from another network.


def test_students_from_another_network_appear_under_a_pseudonym_never_their_address(
    class_stack: RunningStack, students: StudentNetwork
) -> None:
    port = port_of(class_stack)
    site = f"http://{students.listen}:{port}"
    with live_events(class_stack.url) as stream:  # the projector, at this machine
        assert students.fetch([f"{site}/static/style.css", f"{site}/dynamic?name=Kim"]) == [200, 200]
        file = stream.wait_for(is_request("/static/style.css", how="file", by="nginx"), "the student's file")
        page = stream.wait_for(is_request("/dynamic", how="worker", by="worker"), "the student's page")
    assert file.data["who"] == page.data["who"] and file.data["who"] >= 1  # a student's number, not 0
    assert not file.data["mine"]
    assert students.student not in stream.text and "Kim" not in stream.text
    assert ".".join(students.student.split(".")[:3]) + "." not in stream.text  # no part of the address either
    if students.why_not_a_namespace:
        message = f"students from another network shown with a loopback source only: {students.why_not_a_namespace}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this with a network namespace: {message}")
        pytest.skip(message)


# A worker killed with /live open.


def test_a_killed_worker_shows_on_the_open_stream_as_dead_then_back_while_the_other_answers(
    class_stack: RunningStack,
) -> None:
    with live_events(class_stack.url) as stream, visitor(STUDENT, class_stack.url) as student:
        streaming, other = streaming_and_other(class_stack, stream)
        os.kill(other["pid"], signal.SIGKILL)  # not the worker streaming to this page: the stream goes on
        shows_death_and_return(class_stack, stream, student, dead=other, survivor=streaming)


def test_a_page_whose_worker_was_killed_reconnects_and_still_learns_of_the_death(class_stack: RunningStack) -> None:
    """The page's stream was on the killed worker: it ends, and the browser reconnects (EventSource: a second
    later, with Last-Event-ID) to another process, which must still tell it what happened."""
    with live_events(class_stack.url) as stream, visitor(STUDENT, class_stack.url) as student:
        streaming, other = streaming_and_other(class_stack, stream)
        student.get("/api/now")
        stream.wait_for(lambda event: event.name == "request", "a request (an id to resume from)")
        os.kill(streaming["pid"], signal.SIGKILL)
        assert stream.ends(), f"the stream of a killed worker stayed open:\n{stream.text}"
    time.sleep(1)  # the stream's retry: 1000 ms
    with (
        live_events(class_stack.url, last_event_id=stream.last_id, retry_seconds=EVENT_SECONDS) as again,
        visitor(STUDENT, class_stack.url) as student,
    ):
        # A second after the kill the stack has started the worker again: the survivor and the new process share
        # the requests, so this page is owed the death and the return, not the survivor's answers alone.
        shows_death_and_return(class_stack, again, student, dead=streaming, survivor=other, back_already=True)


def streaming_and_other(stack: RunningStack, stream: EventReader) -> tuple[dict[str, Any], dict[str, Any]]:
    """The worker streaming to this page and the other one, both answering (after an earlier test's kill too)."""
    workers = stack.state["workers"]
    for worker in workers:
        wait_for(answers(worker["port"]), seconds=EVENT_SECONDS, what=f"worker {worker['number']} to answer")
    streaming = next(worker for worker in workers if worker["pid"] == stream.events[0].data["pid"])
    return streaming, next(worker for worker in workers if worker is not streaming)


def answers(port: int) -> Callable[[], bool]:
    return lambda: httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1, trust_env=False).is_success


def replaced(stack: RunningStack, dead: dict[str, Any]) -> Callable[[], int | None]:
    """The pid stack.json names for the dead worker's number, once it is a new one."""

    def new_pid() -> int | None:
        pid: int = next(w["pid"] for w in stack.state["workers"] if w["number"] == dead["number"])
        return pid if pid != dead["pid"] else None

    return new_pid


def shows_death_and_return(
    stack: RunningStack,
    stream: EventReader,
    student: httpx.Client,
    *,
    dead: dict[str, Any],
    survivor: dict[str, Any],
    back_already: bool = False,
) -> None:
    died = stream.wait_for(is_worker_event("died", dead["number"]), f"worker {dead['number']}'s death")
    assert died.data["pid"] == dead["pid"]
    after_death = len(stream.events)
    for _request in range(4):
        assert student.get("/api/now").status_code == 200
    if not back_already:
        answer = is_request("/api/now", pid=survivor["pid"], worker=survivor["number"])
        stream.wait_for(answer, "the survivor's answer")
    assert not [e for e in stream.events[after_death:] if e.name == "request" and e.data["pid"] == dead["pid"]]
    since_death = stream.events.index(died)
    back = stream.wait_for(is_worker_event("back", dead["number"]), "the worker's return", since=since_death)
    new_pid = wait_for(replaced(stack, dead), seconds=EVENT_SECONDS, what="stack.json to name the new worker")
    assert (back.data["pid"], back.data["new_pid"]) == (dead["pid"], new_pid)
    said = (
        f"worker {dead['number']} (pid {dead['pid']}, port {dead['port']}) killed by SIGKILL; "
        f"restarted as pid {new_pid}."
    )
    wait_for(lambda: said in stack.output(), seconds=EVENT_SECONDS, what=f"the terminal to say {said!r}")


# Every worker down.


def test_with_every_worker_down_live_says_so_from_disk_and_its_stream_fails_fast(tmp_path: Path) -> None:
    with run_stack(tmp_path, "--no-restart") as stack, live_events(stack.url) as stream:
        for pid in stack.worker_pids():
            os.kill(pid, signal.SIGKILL)
        assert stream.ends(), f"an open stream stayed open with every worker down:\n{stream.text}"
        wait_for(lambda: stack.output().count("not restarting") == 2, seconds=10, what="both deaths to be reported")
        page = httpx.get(f"{stack.url}/live", timeout=10, trust_env=False)
        assert page.status_code == 502
        assert page.headers["x-served-by"] == "nginx"
        assert page.headers["content-type"].startswith("text/html")
        assert page.content == (PROJECT_ROOT / "static" / "errors" / "live.html").read_bytes()
        started = time.monotonic()
        events = httpx.get(f"{stack.url}/live/events", timeout=FAIL_FAST_SECONDS * 2, trust_env=False)
        assert time.monotonic() - started < FAIL_FAST_SECONDS
        assert (events.status_code, events.headers["x-served-by"]) == (502, "nginx")
        static = httpx.get(f"{stack.url}/static/style.css", timeout=10, trust_env=False)
        assert (static.status_code, static.headers["x-served-by"]) == (200, "nginx")


# A uvicorn alone.


def test_a_uvicorn_alone_streams_its_own_requests_and_never_waits_for_the_stream(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project) as server:
        shows_what_the_worker_answered(server)
        with live_events(server.url) as stream:
            main = project / "webapp" / "main.py"
            main.write_text(main.read_text(encoding="utf-8") + "\n# saved in class\n", encoding="utf-8")
            assert stream.ends(SAVE_SECONDS), f"the stream held up the reload:\n{stream.text}"
        first_pid = stream.events[0].data["pid"]
        wait_for(
            lambda: httpx.get(f"{server.url}/api/now", timeout=2, trust_env=False).json()["pid"] != first_pid,
            seconds=RELOAD_SECONDS,
            what=f"the reload to finish; output:\n{server.output()}",
        )
        assert "Waiting for connections to close" not in server.output()
        with live_events(server.url):
            started = time.monotonic()
            server.process.send_signal(signal.SIGINT)  # Ctrl+C, with the projector still open
            server.process.wait(timeout=STOP_SECONDS)
        assert time.monotonic() - started < STOP_SECONDS


def shows_what_the_worker_answered(server: LiveServer) -> None:
    with live_events(server.url) as stream, visitor(STUDENT, server.url) as student:
        hello = stream.events[0].data
        assert (hello["source"], hello["workers"], hello["you"]) == ("app", [], 0)
        assert student.get("/static/style.css").status_code == 200
        assert student.get("/dynamic").status_code == 200
        for path in ("/static/style.css", "/dynamic"):
            event = stream.wait_for(is_request(path, how="worker", by="worker"), f"{path} by the worker")
            assert (event.data["pid"], event.data["who"], event.data["mine"]) == (hello["pid"], 1, False)
    assert STUDENT not in stream.text
