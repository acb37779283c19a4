"""nginx for the stack and the benchmark: one family of configuration templates, one way to run it.

The templates are in nginx_conf/: base.conf.j2 holds what every nginx here
shares, site.conf.j2 (the stack) and bare.conf.j2 (the benchmark's baseline)
extend it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import jinja2

from tools.processes import (
    HOST,
    ProgramError,
    find_program,
    install_hint,
    spawn,
    stop_process,
    wait_until_listening,
)

TEMPLATES_DIR = Path(__file__).resolve().parent / "nginx_conf"
SITE_TEMPLATE = "site.conf.j2"
BARE_TEMPLATE = "bare.conf.j2"
MIME_TYPES_CANDIDATES = (
    "/etc/nginx/mime.types",
    "/usr/local/etc/nginx/mime.types",
    "/opt/homebrew/etc/nginx/mime.types",
)

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    undefined=jinja2.StrictUndefined,
)


def mime_types_path() -> str:
    for candidate in MIME_TYPES_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return "mime.types"  # relative to nginx's own configuration prefix


def render_config(template: str, *, run_dir: Path, nginx_workers: int | str = "auto", **values: Any) -> str:
    """Fill in one of the templates; the values every template needs are filled in here."""
    return _environment.get_template(template).render(
        run_as_root=os.geteuid() == 0,
        nginx_workers=nginx_workers,
        run_dir=run_dir,
        mime_types=mime_types_path(),
        host=HOST,
        **values,
    )


def nginx_program(path: str | None = None) -> str:
    """Return the nginx to run: the one given, else the one installed; raise ProgramError if there is none."""
    nginx = path or find_program("nginx")
    if nginx is None or not os.access(nginx, os.X_OK):
        raise ProgramError(install_hint("nginx"))
    return nginx


def start_nginx(nginx: str, config_text: str, run_dir: Path, ports: list[int], *, what: str) -> subprocess.Popen[bytes]:
    """Write the configuration into `run_dir`, run nginx on it in the foreground and return once it
    listens on every port; if it cannot start, stop it and raise ProgramError with what nginx said."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "nginx.conf"
    config.write_text(config_text)
    said = run_dir / "stderr.log"  # what nginx says before its error log is open: a bad config, a busy port
    command = [nginx, "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log"), "-g", "daemon off;"]
    with open(said, "wb") as stderr:
        process = spawn(command, stderr=stderr)
    try:
        for port in ports:
            wait_until_listening(port, process, what)
    except ProgramError as error:
        stop_process(process)
        raise ProgramError(f"{error}. {said.read_text(errors='replace').strip()}".strip()) from None
    return process
