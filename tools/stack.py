"""Run the site the way the lesson ends: nginx in front, uvicorn workers behind.

    python -m tools.stack [--workers 2] [--http-port 8080] [--https-port 8443]

nginx serves static/ itself, terminates TLS and balances the other requests
over the workers. Everything runs in the foreground on 127.0.0.1, without
root, from a run directory; Ctrl-C or SIGTERM stops all of it. A worker that
dies is reported and started again.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tools import nginx
from tools.processes import (
    HOST,
    PROXY_ARGS,
    ProgramError,
    child_environment,
    describe_exit,
    find_program,
    free_port,
    install_hint,
    refused_on_windows,
    require_free,
    spawn,
    stop_process,
    uvicorn_command,
    wait_until_listening,
)
from webapp import caching, fingerprints
from webapp.database import DEADLINE_SECONDS
from webapp.headers import SECURITY_HEADERS
from webapp.paths import PROJECT_ROOT, STATIC_DIR
from webapp.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_STATIC_CACHE_CONTROL
from webapp.spectrum import PRERENDERED_FOLDER
from webapp.terminal import aligned
from webapp.terminal import text as _

DEFAULT_RUN_DIR = PROJECT_ROOT / ".run" / "stack"
SUPERVISE_INTERVAL = 0.2
PRERENDER_SECONDS = 60
# Per client address, except this machine's own 127.0.0.1 (see site.conf.j2).
CLIENT_LIMITS = {
    "connections": 32,
    "requests_per_second": 20,
    "request_burst": 40,
    "posts_per_minute": 10,
    "post_burst": 5,
}


def default_server_names() -> list[str]:
    """The host names the stack answers to: localhost, 127.0.0.1 and this machine's name."""
    names = ["localhost", HOST, socket.gethostname().lower()]
    return list(dict.fromkeys(name for name in names if name))


def ensure_certificate(tls_dir: Path) -> tuple[Path, Path]:
    """Return (certificate, key) for localhost, made with openssl on first use."""
    certificate, key = tls_dir / "localhost.crt", tls_dir / "localhost.key"
    if certificate.exists() and key.exists():
        return certificate, key
    openssl = find_program("openssl")
    if openssl is None:
        raise ProgramError(install_hint("openssl"))
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
            "-keyout", str(key), "-out", str(certificate), "-subj", "/CN=localhost",
            "-addext", f"subjectAltName=DNS:localhost,IP:{HOST}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return certificate, key


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
    static_dir: Path = STATIC_DIR,
    cache_dir: Path | None = None,
    nginx_workers: int | str = "auto",
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
        limits=CLIENT_LIMITS,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        proxy_secret=proxy_secret,
        fingerprint_digits=fingerprints.DIGITS,
        fingerprint_suffixes="|".join(fingerprints.SUFFIXES),
        fingerprinted_cache_control=caching.FINGERPRINTED,
        made_for_this_request=caching.MADE_FOR_THIS_REQUEST,
        icon_redirect_cache_control=caching.ICON_REDIRECT,
        shared_seconds=caching.SHARED_SECONDS,
        prerendered_folder=PRERENDERED_FOLDER,
    )


@dataclass
class Worker:
    number: int
    port: int
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to the stack's own environment
    process: subprocess.Popen[bytes] | None = None
    reported_dead: bool = False

    def command(self) -> list[str]:
        return uvicorn_command(self.port, *PROXY_ARGS)

    def start(self) -> None:
        output = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
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
    _workers: list[Worker] = field(default_factory=list)
    _static_dir: Path = STATIC_DIR
    _static_mirror: Path | None = None
    _cache_root: Path | None = None
    _nginx: subprocess.Popen[bytes] | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    def start(self) -> None:
        nginx_path = nginx.nginx_program(self.nginx)
        require_free(self.http_port, "--http-port")
        require_free(self.https_port, "--https-port")
        certificate, key = ensure_certificate(self.run_dir / "tls")
        proxy_secret = secrets.token_urlsafe(24)  # new each start: only this nginx knows it
        self.build()
        self._static_dir, self._static_mirror = nginx.static_dir_for_workers(STATIC_DIR)

        self._workers = [
            Worker(
                number,
                free_port(),
                self.run_dir / f"worker-{number}.log" if self.worker_logs else None,
                env={**self.worker_env, "WEBAPP_PROXY_SECRET": proxy_secret},
            )
            for number in range(1, self.workers + 1)
        ]
        for worker in self._workers:
            worker.start()
        for worker in self._workers:
            assert worker.process is not None
            wait_until_listening(worker.port, worker.process, f"uvicorn worker {worker.number}")

        nginx_dir = self.run_dir / "nginx"
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
            static_dir=self._static_dir,
            cache_dir=cache_dir,
            nginx_workers=self.nginx_workers,
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
            "workers": [{"number": w.number, "port": w.port, "pid": w.pid} for w in self._workers],
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.state_file)

    def announce(self) -> None:
        rows = [
            (_("nginx (web server)"), f"http://{HOST}:{self.http_port}/  https://{HOST}:{self.https_port}/"),
            ("  " + _("static files from"), str(self._static_dir)),
            ("  " + _("answers to the host names"), ", ".join(self.server_names)),
            *(
                (_("uvicorn worker %(number)s (WAS)") % {"number": worker.number},
                 f"http://{HOST}:{worker.port}/  pid {worker.pid}")
                for worker in self._workers
            ),
            (_("TLS certificate (self-signed)"), str(self.run_dir / "tls" / "localhost.crt")),
            (_("nginx logs"), str(self.run_dir / "nginx")),
        ]  # fmt: skip
        print(aligned(rows))
        print(_("Press Ctrl-C to stop."), flush=True)

    def supervise(self) -> None:
        """Until asked to stop: restart workers that die; stop if nginx dies."""
        while not self._stopping.wait(SUPERVISE_INTERVAL):
            assert self._nginx is not None
            if self._nginx.poll() is not None:
                print(
                    _("nginx %(exit)s; stopping the stack.") % {"exit": describe_exit(self._nginx.returncode)},
                    flush=True,
                )
                return
            for worker in self._workers:
                assert worker.process is not None
                if worker.process.poll() is None or worker.reported_dead:
                    continue
                exit_status = describe_exit(worker.process.returncode)
                message = _("worker %(number)s (pid %(pid)s, port %(port)s) %(exit)s") % {
                    "number": worker.number, "pid": worker.pid, "port": worker.port, "exit": exit_status
                }  # fmt: skip
                if not self.restart:
                    print(_("%(message)s; not restarting (--no-restart).") % {"message": message}, flush=True)
                    worker.reported_dead = True
                    continue
                worker.start()
                print(_("%(message)s; restarted as pid %(pid)s.") % {"message": message, "pid": worker.pid}, flush=True)
                self.write_state()

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping.set()

    def stop(self) -> None:
        if self._nginx is not None:
            stop_process(self._nginx, signal.SIGQUIT)  # graceful: finish the requests in flight
        for worker in self._workers:
            if worker.process is not None:
                stop_process(worker.process)
        for made in (self._static_mirror, self._cache_root):
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)


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
        metavar="NAME",
        help=_("a host name to answer to, besides localhost, 127.0.0.1 and this machine's name (repeatable)"),
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
    server_names = default_server_names() + [name.lower() for name in args.server_names or []]
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
