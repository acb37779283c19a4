"""A database that stalls (locked by another program, or paused) never takes the site down.

While the database hangs, 50 clients keep loading /dynamic and probes ask for
/ping, a static file and the guestbook's JSON. Every answer must come within
its bound: /ping and static files at once, database pages within seconds with
the "unavailable" notice, nothing 500. When the stall ends, everything works
again without a restart, and no acknowledged write is lost.

Real servers on 127.0.0.1 only; every stall ends by itself after HOLD_SECONDS.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import run_site, run_stack, sqlite_locked
from tools.processes import HOST, free_port

HOLD_SECONDS = 12.0  # far past the 2 s a page waits for the database and the 4 s a silent worker is given
CLIENTS = 50
# Each client loads /dynamic, waits this long, and loads it again: about 200 requests a second in all,
# well within what one uvicorn serves with a healthy database, so that a slow answer is the stall's doing.
CLIENT_PAUSE_SECONDS = 0.25
NOTICE = "The database cannot be reached"
FAST_SECONDS = 1.0  # /ping and static files: the database is none of their business
DATABASE_PAGE_SECONDS = 3.0  # pages and JSON that need the database: an answer, or the notice


@dataclass
class Answer:
    at: float  # seconds since the stall began (negative: before it)
    seconds: float
    status: int  # 0: no answer at all
    notice: bool = False


@dataclass
class Observed:
    dynamic: list[Answer] = field(default_factory=list)
    fast: dict[str, list[Answer]] = field(default_factory=dict)
    guestbook_json: list[Answer] = field(default_factory=list)
    stall_seconds: float = 0.0

    def during(self, answers: list[Answer]) -> list[Answer]:
        """Answers to requests sent well inside the stall, after the first full deadline."""
        return [a for a in answers if 0.5 <= a.at <= self.stall_seconds - DATABASE_PAGE_SECONDS]


def load_during(url: str, stall: Callable[[], Iterator[None]]) -> Observed:
    """Load the site at `url` before, during and after `stall` (a context manager function)."""
    observed = Observed()

    async def scenario() -> None:
        stop = asyncio.Event()
        began = time.monotonic() + 3600.0

        async def ask(client: httpx.AsyncClient, path: str, into: list[Answer]) -> httpx.Response | None:
            sent = time.monotonic()
            try:
                response: httpx.Response | None = await client.get(path)
            except httpx.HTTPError:
                response = None
            into.append(
                Answer(
                    sent - began,
                    time.monotonic() - sent,
                    response.status_code if response else 0,
                    bool(response and NOTICE in response.text),
                )
            )
            return response

        async def keep_loading(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                await ask(client, "/dynamic?lang=en", observed.dynamic)
                await asyncio.sleep(CLIENT_PAUSE_SECONDS)

        async def probe(path: str, into: list[Answer], every: float) -> None:
            # A client of its own, new connections: a visitor arriving during the stall.
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                while not stop.is_set():
                    await ask(client, path, into)
                    await asyncio.sleep(every)

        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
            for path in ("/ping", "/static/index.html", "/api/now"):
                observed.fast[path] = []
            tasks = [asyncio.ensure_future(keep_loading(client)) for _ in range(CLIENTS)]
            tasks += [asyncio.ensure_future(probe(path, into, 0.2)) for path, into in observed.fast.items()]
            tasks.append(asyncio.ensure_future(probe("/api/guestbook", observed.guestbook_json, 0.3)))
            await asyncio.sleep(1.0)
            with stall():
                began = time.monotonic()
                await asyncio.sleep(HOLD_SECONDS)
                observed.stall_seconds = time.monotonic() - began
            await asyncio.sleep(DATABASE_PAGE_SECONDS + 1.0)
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(scenario())
    return observed


def assert_the_site_stayed_up(observed: Observed) -> None:
    for path, answers in observed.fast.items():
        slow_or_failed = [a for a in answers if a.status != 200 or a.seconds > FAST_SECONDS]
        assert len(answers) > HOLD_SECONDS, path
        assert slow_or_failed == [], f"{path}: {slow_or_failed[:5]}"

    dynamic = observed.dynamic
    assert [a for a in dynamic if a.status != 200] == []
    slow = sorted((a for a in dynamic if a.seconds > DATABASE_PAGE_SECONDS), key=lambda a: -a.seconds)
    assert slow == [], (
        f"{len(slow)} /dynamic took over {DATABASE_PAGE_SECONDS} s (stall: {observed.stall_seconds:.1f} s)"
    )
    during = observed.during(dynamic)
    assert len(during) > CLIENTS * 2
    assert all(a.notice for a in during), "a /dynamic during the stall did not say the database was unavailable"
    assert [a for a in dynamic if a.at + a.seconds < 0 and a.notice] == []  # answered before it: counted as usual

    json_answers = observed.guestbook_json
    assert {a.status for a in json_answers} <= {200, 503}
    assert max(a.seconds for a in json_answers) <= DATABASE_PAGE_SECONDS


def assert_everything_works_again(url: str, acknowledged: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get("/dynamic?lang=en")
        assert page.status_code == 200 and NOTICE not in page.text
        created = client.post("/api/guestbook", json={"name": "after", "message": "the stall"})
        assert created.status_code == 201
        stored = {entry["id"] for entry in client.get("/api/guestbook", params={"limit": 1000}).json()["entries"]}
    assert set(acknowledged) | {created.json()["id"]} <= stored


def post_entries(url: str, count: int) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        responses = [client.post("/api/guestbook", json={"name": f"n{i}", "message": "before"}) for i in range(count)]
    assert [r.status_code for r in responses] == [201] * count
    return [r.json()["id"] for r in responses]


def test_sqlite_locked_by_another_program_on_one_uvicorn(tmp_path: Path) -> None:
    database = tmp_path / "site.db"
    with run_site(cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{database}"}) as server:
        acknowledged = post_entries(server.url, 3)
        observed = load_during(server.url, lambda: sqlite_locked(database))
        assert_the_site_stayed_up(observed)
        # WAL: reading is not blocked by another program's write lock.
        assert 200 in {a.status for a in observed.during(observed.guestbook_json)}
        assert_everything_works_again(server.url, acknowledged)
        assert "Traceback" not in server.output()


def test_sqlite_locked_through_nginx_marks_no_worker_down(tmp_path: Path) -> None:
    database = tmp_path / "site.db"
    with run_stack(tmp_path, database_url=f"sqlite:///{database}") as stack:
        acknowledged = post_entries(stack.url, 3)
        observed = load_during(stack.url, lambda: sqlite_locked(database))
        assert_the_site_stayed_up(observed)
        assert_everything_works_again(stack.url, acknowledged)
        nginx_log = (stack.run_dir / "nginx" / "error.log").read_text()
        for sign in ("temporarily disabled", "no live upstreams", "upstream timed out"):
            assert sign not in nginx_log, nginx_log[-2000:]
        assert "did not answer /ping" not in stack.output()  # busy waiting on the database is not hung


# PostgreSQL: a private cluster, started by this test on a free port and removed after it.


def postgresql_programs() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    on_path = shutil.which("initdb")
    if not found and not on_path:
        reason = "PostgreSQL's initdb is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have it: {reason}")
        pytest.skip(reason)
    return Path(found[-1] if found else str(on_path)).parent


@dataclass
class Cluster:
    url: str
    data_dir: Path

    def pids(self) -> set[int]:
        """The postmaster and every process it started."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        pids = {postmaster}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if parent == postmaster:
                    pids.add(int(entry.name))
        return pids


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    bin_dir = postgresql_programs()
    as_root = os.geteuid() == 0
    owner = pwd.getpwnam("postgres") if as_root else pwd.getpwuid(os.geteuid())
    base = Path(tempfile.mkdtemp(prefix="webapp-pg-"))
    os.chown(base, owner.pw_uid, owner.pw_gid)
    data_dir, port = base / "data", free_port()

    def run(*command: str) -> None:
        # initdb refuses to run as root: as root, the cluster belongs to the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "webapp", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {base} -c listen_addresses={HOST} -c fsync=off"
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        run(str(bin_dir / "createdb"), "-h", HOST, "-p", str(port), "-U", "webapp", "webapp")
        yield Cluster(f"postgresql+psycopg://webapp@{HOST}:{port}/webapp", data_dir)
    finally:
        if (data_dir / "postmaster.pid").exists():
            subprocess.run(
                [*(["runuser", "-u", "postgres", "--"] if as_root else []), str(bin_dir / "pg_ctl"),
                 "-D", str(data_dir), "-m", "immediate", "-t", "30", "stop"],
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def paused(cluster: Cluster) -> Iterator[None]:
    """Stop every process of the cluster (SIGSTOP): connections stay open, nothing answers."""
    pids = cluster.pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_postgresql_paused_on_one_uvicorn(tmp_path: Path) -> None:
    with private_cluster() as cluster, run_site(cwd=tmp_path, env={"DATABASE_URL": cluster.url}) as server:
        acknowledged = post_entries(server.url, 3)
        observed = load_during(server.url, lambda: paused(cluster))
        assert_the_site_stayed_up(observed)
        assert_everything_works_again(server.url, acknowledged)
        assert "Traceback" not in server.output()
