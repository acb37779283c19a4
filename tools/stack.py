"""Run the site the way the lesson ends: nginx in front, uvicorn workers behind.

    python -m tools.stack [--workers 2] [--http-port 8080] [--https-port 8443]

nginx serves static/ itself, terminates TLS and balances the other requests
over the workers. Everything runs in the foreground, without root, from a run
directory; Ctrl-C or SIGTERM stops all of it. A worker that dies is reported
and started again. nginx listens on 127.0.0.1 only, unless told where else
(--listen); --class opens it to a class network, with limits for a room
(docs/class.md).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tools import errorlog, nginx
from tools.certificate import ensure_certificate, server_name
from tools.health import PingWatch
from tools.processes import (
    HOST,
    PROXY_ARGS,
    ProgramError,
    child_environment,
    describe_exit,
    free_port,
    refused_on_windows,
    require_free,
    spawn,
    stop_process,
    uvicorn_command,
    wait_until_listening,
)
from tools.runfolder import keep_small, make_private, open_private_log, write_private
from webapp import caching, fingerprints, network, pseudonyms
from webapp.database import DEADLINE_SECONDS
from webapp.headers import SECURITY_HEADERS
from webapp.i18n import N_
from webapp.live import ADDRESS_BUSY
from webapp.logs import LOGGED_PATH_LENGTH
from webapp.paths import PROJECT_ROOT, STATIC_DIR
from webapp.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_STATIC_CACHE_CONTROL, STACK_RUN_DIR_VARIABLE
from webapp.spectrum import PRERENDERED_FOLDER
from webapp.terminal import aligned, translations
from webapp.terminal import text as _

DEFAULT_RUN_DIR = PROJECT_ROOT / ".run" / "stack"
SUPERVISE_INTERVAL = 0.2
# A worker that is alive but answers nothing (a deadlock, an endless loop, SIGSTOP) keeps getting its
# share of requests from nginx. So the stack asks each worker's /ping directly (tools/health.py) every
# HEALTH_CHECK_INTERVAL s, waits HEALTH_CHECK_TIMEOUT s for each answer, and kills and restarts a worker
# that fails HEALTH_CHECK_FAILURES checks in a row: one is replaced within about
# HEALTH_CHECK_INTERVAL + HEALTH_CHECK_FAILURES * HEALTH_CHECK_TIMEOUT = 4 s (docs/stack.md says 5 s).
# A busy worker is not a hung one: /ping never waits for the database (its calls run on threads of their
# own, webapp/lanes.py), so a worker answers it in milliseconds even while every page waits for a stalled
# database, as tests/e2e/test_database_stall.py requires (within 1 s). Three silent checks in a row are
# 3 s of silence, longer than the longest wait for the database (DEADLINE_SECONDS), so one slow moment
# (a pause of the machine, a burst of requests) is never taken for a hang.
HEALTH_CHECK_INTERVAL = 1.0
HEALTH_CHECK_TIMEOUT = 1.0
HEALTH_CHECK_FAILURES = 3
PRERENDER_SECONDS = 60
# Per client address, except the owner's own direct requests (see site.conf.j2).
CLIENT_LIMITS = {
    "connections": 32,
    "requests_per_second": 20,
    "request_burst": 40,
    "posts_per_minute": 10,
    "post_burst": 5,
    # What nginx answers itself (files, its redirects and 404s): hundreds a second, so a room loading pages
    # at once from one address is never refused, while a flood writes at most this many log lines a second.
    "static_per_second": 250,
    "static_burst": 500,
    # Open /live pages (each one long connection): a person's tabs and the projector.
    "live_streams": 6,
}
# With --class: a whole class may reach the stack from one address (a school's router), so each limit is
# sized for a room of up to 60 people; LIMIT_REASONS says why, at start and in docs/class.md. What keeps
# one client from hurting the others holds as it is: timeouts, body sizes, logs kept small.
CLASS_LIMITS = {
    "connections": 400,
    "requests_per_second": 200,
    "request_burst": 800,
    "posts_per_minute": CLIENT_LIMITS["posts_per_minute"],
    "post_burst": CLIENT_LIMITS["post_burst"],
    "static_per_second": 3000,
    "static_burst": 6000,
    "live_streams": 70,
}
LIMIT_REASONS = {
    "connections": N_("a browser opens up to 6 connections at once: 60 people, with room to spare"),
    "requests_per_second": N_("pages made by the workers: 60 people reloading at once"),
    "request_burst": N_("each page asks the workers up to about 10 times when it loads"),
    "posts_per_minute": N_("guestbook posts stay as they are: a flood of posts would fill the database"),
    "post_burst": N_("guestbook posts stay as they are: a flood of posts would fill the database"),
    "static_per_second": N_("files nginx sends itself: far above a room loading pages at once"),
    "static_burst": N_(
        "one load of /spectrum asks for about 48 files: 60 people loading it at once ask for about 2,900"
    ),
    "live_streams": N_("open /live pages: a room of 60 and the projector"),
}
# Each log in the run folder (nginx's access and error logs, the workers' logs) is kept under this size:
# past it, the stack moves it aside as <name>.1 (replacing the one before) and starts it again empty.
MEGABYTE = 1024 * 1024
LOG_FILE_BYTES = 8 * MEGABYTE
LOG_CHECK_INTERVAL = 2.0
WORKER_EVENTS = 50  # deaths and returns kept in stack.json for /live
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def default_server_names(listen: list[str] | None = None) -> list[str]:
    """The host names the stack answers to: localhost, 127.0.0.1, this machine's name, and the addresses
    other devices reach it at when it listens beyond this machine (`listen`)."""
    names = ["localhost", HOST, socket.gethostname().lower(), *network.reachable_addresses(listen or [HOST])]
    return list(dict.fromkeys(name for name in names if name))


def live_busy() -> str:
    """What nginx answers a browser over the limit of open /live pages from one address: the app's own sentence,
    in Korean and English (nginx does not know the page's language)."""
    said = [translations(language).gettext(ADDRESS_BUSY) for language in ("ko", "en")]
    return " / ".join(said).replace("\\", "").replace('"', "").replace("'", "")


def listen_addresses(listen: list[str]) -> list[str]:
    """Where nginx listens: the addresses asked for, and 127.0.0.1 always (the instructor's own browser, the
    stack's checks), unless 0.0.0.0 (every address of this machine) already covers it."""
    if network.ANY_ADDRESS in listen:
        return [network.ANY_ADDRESS]
    return list(dict.fromkeys([HOST, *listen]))


def listen_address(value: str) -> str:
    """An IPv4 address to listen on, as --listen takes it."""
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("%(value)s is not an IPv4 address: 0.0.0.0 (every network of this machine) or one of its addresses.")
            % {"value": value}
        ) from None


def render_site_config(
    *,
    run_dir: Path,
    worker_ports: list[int],
    http_port: int,
    https_port: int,
    certificate: Path,
    certificate_key: Path,
    proxy_secret: str,
    server_names: list[str] | None = None,
    listen: list[str] | None = None,
    limits: dict[str, int] | None = None,
    static_dir: Path = STATIC_DIR,
    cache_dir: Path | None = None,
    nginx_workers: int | str = "auto",
    redirect_to_https: bool = False,
    trusted_forwarder_header: str = "",
    error_log_relay: str = "",
) -> str:
    """The stack's nginx configuration: static/ from disk, everything else to the workers."""
    return nginx.render_config(
        nginx.SITE_TEMPLATE,
        run_dir=run_dir,
        nginx_workers=nginx_workers,
        worker_ports=worker_ports,
        http_port=http_port,
        https_port=https_port,
        certificate=certificate,
        certificate_key=certificate_key,
        static_dir=static_dir,
        cache_dir=cache_dir or run_dir / "cache",
        static_cache_control=DEFAULT_STATIC_CACHE_CONTROL,
        security_headers=SECURITY_HEADERS,
        database_deadline=f"{DEADLINE_SECONDS:g}",
        server_names=server_names or default_server_names(),
        listen_addresses=listen_addresses(listen or [HOST]),
        limits=limits or CLIENT_LIMITS,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        proxy_secret=proxy_secret,
        fingerprint_digits=fingerprints.DIGITS,
        fingerprint_suffixes="|".join(fingerprints.SUFFIXES),
        fingerprinted_cache_control=caching.FINGERPRINTED,
        made_for_this_request=caching.MADE_FOR_THIS_REQUEST,
        icon_redirect_cache_control=caching.ICON_REDIRECT,
        shared_seconds=caching.SHARED_SECONDS,
        prerendered_folder=PRERENDERED_FOLDER,
        redirect_to_https=redirect_to_https,
        trusted_forwarder_header=trusted_forwarder_header,
        error_log_relay=error_log_relay,
        error_lines_per_second=errorlog.LINES_PER_SECOND,
        logged_path_length=LOGGED_PATH_LENGTH,
        log_file_megabytes=LOG_FILE_BYTES // MEGABYTE,
        live_busy=live_busy(),
    )


@dataclass
class Worker:
    number: int
    port: int
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to the stack's own environment
    process: subprocess.Popen[bytes] | None = None
    reported_dead: bool = False
    watch: PingWatch | None = None  # asks /ping while the stack supervises

    def command(self) -> list[str]:
        return uvicorn_command(self.port, *PROXY_ARGS)

    def start(self) -> None:
        # Private to this user (0600): the workers' logs name visitors' addresses.
        output = os.fdopen(open_private_log(self.log_path), "ab") if self.log_path else None
        try:
            self.process = spawn(
                self.command(),
                env=child_environment(self.env),
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
        finally:
            if output:
                output.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def watch_health(self) -> None:
        """Ask this worker's /ping from now on, counting from nothing (after a restart too)."""
        self.stop_watching()
        self.watch = PingWatch(self.port, interval=HEALTH_CHECK_INTERVAL, timeout=HEALTH_CHECK_TIMEOUT)
        self.watch.start()

    def stop_watching(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None

    def silent_seconds(self) -> float | None:
        """How long this worker has not answered, once it has failed HEALTH_CHECK_FAILURES checks in a row."""
        silence = self.watch.silence() if self.watch else None
        return silence.seconds if silence and silence.checks >= HEALTH_CHECK_FAILURES else None

    def kill(self) -> bool:
        """SIGKILL, the one signal a stopped or deadlocked process cannot hold off; return whether it is gone."""
        assert self.process is not None
        self.stop_watching()
        stop_process(self.process, signal.SIGKILL)
        return self.process.poll() is not None


@dataclass
class Stack:
    workers: int = 2
    http_port: int = 8080
    https_port: int = 8443
    run_dir: Path = DEFAULT_RUN_DIR
    restart: bool = True
    worker_logs: bool = False
    worker_env: dict[str, str] = field(default_factory=dict)  # added to the stack's environment for the workers
    nginx_workers: int | str = "auto"
    nginx: str | None = None
    server_names: list[str] = field(default_factory=default_server_names)
    trusted_forwarder_header: str = ""  # the header a forwarder on this machine names its visitor in
    redirect_to_https: bool = False  # plain HTTP answers only with a redirect to HTTPS
    listen: list[str] = field(default_factory=lambda: [HOST])  # addresses nginx listens on (--listen)
    class_mode: bool = False  # limits sized for a class behind one address (--class)
    _workers: list[Worker] = field(default_factory=list)
    _static_dir: Path = STATIC_DIR
    _static_mirror: Path | None = None
    _cache_root: Path | None = None
    _nginx: subprocess.Popen[bytes] | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _logs_checked: float = 0.0
    _error_log: errorlog.ErrorLogRelay | None = None
    _worker_events: list[dict[str, object]] = field(default_factory=list)  # deaths and returns, for /live

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    @property
    def limits(self) -> dict[str, int]:
        return CLASS_LIMITS if self.class_mode else CLIENT_LIMITS

    @property
    def student_urls(self) -> list[str]:
        return network.student_urls(self.listen, self.http_port)

    def start(self) -> None:
        nginx_path = nginx.nginx_program(self.nginx)
        require_free(self.http_port, "--http-port")
        require_free(self.https_port, "--https-port")
        certificate, key = ensure_certificate(self.run_dir / "tls", self.server_names)
        make_private(self.run_dir)  # the secret, the key and visitors' addresses live here
        proxy_secret = secrets.token_urlsafe(24)  # new each start: only this nginx knows it
        self.build()
        self._static_dir, self._static_mirror = nginx.static_dir_for_workers(STATIC_DIR)

        pseudonyms.forget(self.run_dir)  # students are numbered afresh for each run of the stack
        self._workers = [
            Worker(
                number,
                free_port(),
                self.run_dir / f"worker-{number}.log" if self.worker_logs else None,
                # The run folder: /live reads nginx's access log and this stack's state (stack.json) from it.
                env={**self.worker_env, "WEBAPP_PROXY_SECRET": proxy_secret, STACK_RUN_DIR_VARIABLE: str(self.run_dir)},
            )
            for number in range(1, self.workers + 1)
        ]
        for worker in self._workers:
            worker.start()
        for worker in self._workers:
            assert worker.process is not None
            wait_until_listening(worker.port, worker.process, f"uvicorn worker {worker.number}")

        nginx_dir = self.run_dir / "nginx"
        make_private(nginx_dir)
        self._error_log = errorlog.ErrorLogRelay(nginx_dir / "error.log")
        self._error_log.start()
        cache_dir, self._cache_root = nginx.cache_dir_for_workers(nginx_dir)
        config = render_site_config(
            run_dir=nginx_dir,
            worker_ports=[worker.port for worker in self._workers],
            http_port=self.http_port,
            https_port=self.https_port,
            certificate=certificate,
            certificate_key=key,
            proxy_secret=proxy_secret,
            server_names=self.server_names,
            listen=self.listen,
            limits=self.limits,
            static_dir=self._static_dir,
            cache_dir=cache_dir,
            nginx_workers=self.nginx_workers,
            redirect_to_https=self.redirect_to_https,
            trusted_forwarder_header=self.trusted_forwarder_header,
            error_log_relay=self._error_log.nginx_target,
        )
        self._nginx = nginx.start_nginx(nginx_path, config, nginx_dir, [self.http_port, self.https_port], what="nginx")
        self.write_state()

    def build(self) -> None:
        """What a deploy does before serving: pre-render /dynamic into static/prerendered/ (and its .gz).

        In a process of its own, as a learner runs it: the app it starts to render with
        stays out of this one, which only supervises (and, in the benchmark, measures).
        """
        command = [sys.executable, "-m", "tools.prerender"]
        # With the workers' environment: the pages count their views in the workers' database.
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=child_environment(self.worker_env), capture_output=True, text=True,
            timeout=PRERENDER_SECONDS,
        )  # fmt: skip
        if done.returncode:
            print(_("Not pre-rendered: %(reason)s") % {"reason": done.stderr.strip()}, flush=True)
            return
        print(done.stdout, end="", flush=True)

    def write_state(self) -> None:
        assert self._nginx is not None
        state = {
            "http_url": f"http://{HOST}:{self.http_port}",
            "https_url": f"https://{HOST}:{self.https_port}",
            "certificate": str(self.run_dir / "tls" / "localhost.crt"),
            "nginx_pid": self._nginx.pid,
            "workers": [
                {"number": w.number, "port": w.port, "pid": w.pid, "alive": not w.reported_dead} for w in self._workers
            ],
            "worker_events": self._worker_events,
            # For /live: the addresses students open, and this machine's own (its requests are the instructor's).
            "student_urls": self.student_urls,
            "own_addresses": ["127.0.0.1", "::1", *network.reachable_addresses(self.listen)],
            "class": self.class_mode,
        }
        write_private(self.state_file, json.dumps(state, indent=2))

    def announce(self) -> None:
        rows = [
            (_("nginx (web server)"), f"http://{HOST}:{self.http_port}/  https://{HOST}:{self.https_port}/"),
            ("  " + _("listens on"), ", ".join(listen_addresses(self.listen))),
            ("  " + _("static files from"), str(self._static_dir)),
            ("  " + _("answers to the host names"), ", ".join(self.server_names)),
            *([("  " + _("plain HTTP"), _("redirects to HTTPS"))] if self.redirect_to_https else []),
            *(
                (_("uvicorn worker %(number)s (WAS)") % {"number": worker.number},
                 f"http://{HOST}:{worker.port}/  pid {worker.pid}")
                for worker in self._workers
            ),
            (_("TLS certificate (self-signed)"), str(self.run_dir / "tls" / "localhost.crt")),
            (_("nginx logs"), str(self.run_dir / "nginx")),
        ]  # fmt: skip
        print(aligned(rows))
        self.announce_to_students()
        if self.class_mode:
            self.announce_limits()
        print(_("Press Ctrl-C to stop."), flush=True)

    def announce_to_students(self) -> None:
        """Where students open the site (with a QR code of the first address), and what to do when they cannot."""
        urls = self.student_urls
        if not urls:
            if any(not network.is_loopback(address) for address in self.listen):
                return
            if self.class_mode or network.ANY_ADDRESS in self.listen:
                print(_("This machine is on no network other devices can reach: only its own browser opens the site."))
            return
        print()
        print(_("Students open (on the same network as this machine):"))
        for url in urls:
            print(f"  {url}")
        print(network.qr_terminal(urls[0]), end="")
        print(_("The live view for the projector: %(url)s") % {"url": f"{urls[0]}live"})
        print(_("If students cannot connect:"))
        for system, sentence in network.reach_advice(_, self.http_port):
            print(f"  - {system}: {sentence}")
        print(flush=True)

    def announce_limits(self) -> None:
        """Class mode's limits per client address, each with why it is that size."""
        units = {
            "connections": _("connections at once"),
            "requests_per_second": _("requests a second to the workers"),
            "request_burst": _("requests to the workers at once"),
            "posts_per_minute": _("guestbook posts a minute"),
            "post_burst": _("guestbook posts at once"),
            "static_per_second": _("requests a second nginx answers itself"),
            "static_burst": _("requests nginx answers itself at once"),
            "live_streams": _("open /live pages"),
        }
        print(_("Class limits per client address (a whole class may share one):"))
        print(aligned((f"  {CLASS_LIMITS[name]:,} {unit}", _(LIMIT_REASONS[name])) for name, unit in units.items()))
        print(flush=True)

    def supervise(self) -> None:
        """Until asked to stop: restart workers that die or stop answering; stop if nginx dies."""
        for worker in self._workers:
            worker.watch_health()
        try:
            while not self._stopping.wait(SUPERVISE_INTERVAL):
                self._tend_the_run_folder()
                assert self._nginx is not None
                if self._nginx.poll() is not None:
                    print(
                        _("nginx %(exit)s; stopping the stack.") % {"exit": describe_exit(self._nginx.returncode)},
                        flush=True,
                    )
                    return
                for worker in self._workers:
                    assert worker.process is not None
                    if worker.process.poll() is not None:
                        if not worker.reported_dead:
                            self._replace_dead(worker)
                    elif (seconds := worker.silent_seconds()) is not None:
                        self._replace_hung(worker, seconds)
        finally:
            for worker in self._workers:
                worker.stop_watching()

    def _tend_the_run_folder(self) -> None:
        now = time.monotonic()
        if now - self._logs_checked < LOG_CHECK_INTERVAL:
            return
        self._logs_checked = now
        if self._static_mirror is not None:  # a pre-render made since: nginx serves it within seconds
            nginx.refresh_mirror(STATIC_DIR, self._static_dir)
        if not (self.run_dir / "nginx" / "access.log").exists() and self._nginx is not None:
            # Deleted (by hand): nginx would write on to the deleted file, unbounded and unread by /live. A reload
            # makes it open its logs again (SIGUSR1 would too, but its workers cannot reach the private folder).
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._nginx.pid, signal.SIGHUP)
            print(_("nginx's access.log was deleted: nginx was told to start it again."), flush=True)
        logs = [*(self.run_dir / "nginx").glob("*.log"), *(w.log_path for w in self._workers if w.log_path)]
        for log in keep_small(logs, LOG_FILE_BYTES):
            print(
                _(
                    "%(log)s passed %(megabytes)s MB: moved to %(log)s.1 (replacing the one before), "
                    "started again empty."
                )
                % {"log": log.name, "megabytes": LOG_FILE_BYTES // MEGABYTE},
                flush=True,
            )

    def _replace_dead(self, worker: Worker) -> None:
        assert worker.process is not None
        message = self._worker_event(worker, describe_exit(worker.process.returncode))
        old_pid = self._note(worker, "died")
        if not self.restart:
            worker.stop_watching()
            print(_("%(message)s; not restarting (--no-restart).") % {"message": message}, flush=True)
            worker.reported_dead = True
            self.write_state()
            return
        worker.start()
        worker.watch_health()
        self._note(worker, "back", old_pid)
        print(_("%(message)s; restarted as pid %(pid)s.") % {"message": message, "pid": worker.pid}, flush=True)
        self.write_state()

    def _replace_hung(self, worker: Worker, silent_seconds: float) -> None:
        silence = _("did not answer /ping for %(seconds)s s") % {"seconds": f"{silent_seconds:.0f}"}
        message = self._worker_event(worker, silence)
        if not worker.kill():
            return  # still dying (in uninterruptible sleep, say): replaced as a dead worker once it has gone
        old_pid = self._note(worker, "hung")
        if not self.restart:
            print(_("%(message)s; killed, not restarting (--no-restart).") % {"message": message}, flush=True)
            worker.reported_dead = True
            self.write_state()
            return
        worker.start()
        worker.watch_health()
        self._note(worker, "back", old_pid)
        print(
            _("%(message)s; killed and restarted as pid %(pid)s.") % {"message": message, "pid": worker.pid},
            flush=True,
        )
        self.write_state()

    def _note(self, worker: Worker, what: str, old_pid: int | None = None) -> int:
        """Remember for /live that a worker died, hung or came back (the last WORKER_EVENTS of them); return
        the pid it had before."""
        pid = old_pid if old_pid is not None else worker.pid
        event = {"number": worker.number, "pid": pid, "what": what, "at": round(time.time() * 1000)}
        if what == "back":
            event["new_pid"] = worker.pid
        self._worker_events = [*self._worker_events, event][-WORKER_EVENTS:]
        return pid

    @staticmethod
    def _worker_event(worker: Worker, what: str) -> str:
        return _("worker %(number)s (pid %(pid)s, port %(port)s) %(exit)s") % {
            "number": worker.number, "pid": worker.pid, "port": worker.port, "exit": what
        }  # fmt: skip

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping.set()

    def stop(self) -> None:
        if self._nginx is not None and self._nginx.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._nginx.pid, signal.SIGQUIT)  # graceful: finish the requests in flight
        # The workers at once, not after nginx: nginx's graceful stop waits for every open request, and an
        # open /live page is one until its worker ends the stream (it does, as soon as it is told to stop).
        for worker in self._workers:
            if worker.process is not None and worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.process.pid, signal.SIGTERM)
        if self._nginx is not None:
            stop_process(self._nginx, signal.SIGQUIT)
        for worker in self._workers:
            if worker.process is not None:
                stop_process(worker.process)
        if self._error_log is not None:  # after nginx: its last lines are written
            self._error_log.stop()
        for made in (self._static_mirror, self._cache_root):
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)


def forwarded_header(value: str) -> str:
    """An HTTP header name, as --trust-forwarded-header takes it (it goes into nginx's configuration)."""
    if not HEADER_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            _("%(value)s is not a header name: letters, digits and hyphens, as in X-Forwarded-For.") % {"value": value}
        )
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.stack",
        description=_("Run the site the way the lesson ends: nginx in front, uvicorn workers behind."),
    )
    parser.add_argument("--workers", type=int, default=2, help=_("uvicorn worker processes (default 2)"))
    parser.add_argument("--http-port", type=int, default=8080, help=_("nginx HTTP port (default 8080)"))
    parser.add_argument("--https-port", type=int, default=8443, help=_("nginx HTTPS port (default 8443)"))
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=DEFAULT_RUN_DIR,
        help=_("config, certificate, logs (default %(default)s)") % {"default": DEFAULT_RUN_DIR},
    )
    parser.add_argument(
        "--no-restart",
        dest="restart",
        action="store_false",
        help=_("leave dead workers dead (to show that static files are still served)"),
    )
    parser.add_argument(
        "--worker-logs", action="store_true", help=_("write the workers' access logs to the run directory, not here")
    )
    parser.add_argument("--nginx", help=_("the nginx program to run (default: found on PATH or in /usr/sbin)"))
    parser.add_argument(
        "--server-name",
        dest="server_names",
        action="append",
        type=server_name,
        metavar="NAME",
        help=_("a host name to answer to, besides localhost, 127.0.0.1 and this machine's name (repeatable)"),
    )
    parser.add_argument(
        "--listen",
        action="append",
        type=listen_address,
        metavar="ADDRESS",
        help=_(
            "an address for nginx to listen on, besides 127.0.0.1 (repeatable; 0.0.0.0: every network of this "
            "machine, so that other devices can connect; default 127.0.0.1 only, or 0.0.0.0 with --class)"
        ),
    )
    parser.add_argument(
        "--class",
        dest="class_mode",
        action="store_true",
        help=_(
            "for a class: listen on every network of this machine (unless --listen says where), print the address "
            "students open with a QR code, and size the limits for a room of 60 behind one address (docs/class.md)"
        ),
    )
    parser.add_argument(
        "--redirect-to-https",
        action="store_true",
        help=_("answer plain HTTP only with a redirect to HTTPS (for a server with a real certificate)"),
    )
    parser.add_argument(
        "--trust-forwarded-header",
        dest="trusted_forwarder_header",
        type=forwarded_header,
        metavar="HEADER",
        help=_(
            "the header a tunnel or proxy on this machine puts the visitor's address in (X-Forwarded-For, "
            "CF-Connecting-IP): believe it from 127.0.0.1 only (default: believe none; see docs/stack.md)"
        ),
    )
    parser.add_argument(
        "--print-config", action="store_true", help=_("print the nginx configuration for these options and exit")
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(_("--workers must be at least 1"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if refused_on_windows("python -m tools.stack"):
        return 1
    run_dir: Path = args.run_dir.resolve()
    listen = args.listen or ([network.ANY_ADDRESS] if args.class_mode else [HOST])
    server_names = list(dict.fromkeys(default_server_names(listen) + (args.server_names or [])))
    if args.print_config:
        print(
            render_site_config(
                run_dir=run_dir / "nginx",
                worker_ports=[9001 + number for number in range(args.workers)],
                http_port=args.http_port,
                https_port=args.https_port,
                certificate=run_dir / "tls" / "localhost.crt",
                certificate_key=run_dir / "tls" / "localhost.key",
                proxy_secret=secrets.token_urlsafe(24),
                server_names=server_names,
                listen=listen,
                limits=CLASS_LIMITS if args.class_mode else CLIENT_LIMITS,
                redirect_to_https=args.redirect_to_https,
                trusted_forwarder_header=args.trusted_forwarder_header or "",
            )
        )
        return 0
    stack = Stack(
        workers=args.workers,
        http_port=args.http_port,
        https_port=args.https_port,
        run_dir=run_dir,
        restart=args.restart,
        worker_logs=args.worker_logs,
        nginx=args.nginx,
        server_names=server_names,
        redirect_to_https=args.redirect_to_https,
        trusted_forwarder_header=args.trusted_forwarder_header or "",
        listen=listen,
        class_mode=args.class_mode,
    )
    signal.signal(signal.SIGINT, stack.request_stop)
    signal.signal(signal.SIGTERM, stack.request_stop)
    try:
        stack.start()
        stack.announce()
        stack.supervise()
    except ProgramError as error:
        print(_("Cannot start the stack: %(error)s") % {"error": error}, file=sys.stderr)
        return 1
    finally:
        stack.stop()
    print(_("Stopped nginx and the workers."), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
