"""nginx for the stack and the benchmark: one family of configuration templates, one way to run it.

The templates are in nginx_conf/: base.conf.j2 holds what every nginx here
shares, site.conf.j2 (the stack) and bare.conf.j2 (the benchmark's baseline)
extend it.
"""

from __future__ import annotations

import grp
import os
import pwd
import resource
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable
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
from tools.runfolder import PRIVATE_FILE, PRIVATE_UMASK, make_private, write_private

TEMPLATES_DIR = Path(__file__).resolve().parent / "nginx_conf"
SITE_TEMPLATE = "site.conf.j2"
BARE_TEMPLATE = "bare.conf.j2"
MIME_TYPES_CANDIDATES = (
    "/etc/nginx/mime.types",
    "/usr/local/etc/nginx/mime.types",
    "/opt/homebrew/etc/nginx/mime.types",
)

# Who nginx's worker processes run as when it is started as root.
UNPRIVILEGED_USER = "nobody"
MAX_WORKER_CONNECTIONS = 8192
MAX_FILE_LIMIT = 65536

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


def worker_user() -> str:
    """nginx's `user` line when started as root ("nobody nogroup"), else "" (workers stay this user)."""
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    return f"{user.pw_name} {grp.getgrgid(user.pw_gid).gr_name}"


def file_limit() -> int:
    """How many files an nginx process may open: as many as this system lets it, up to MAX_FILE_LIMIT."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MAX_FILE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, MAX_FILE_LIMIT)


def render_config(template: str, *, run_dir: Path, nginx_workers: int | str = "auto", **values: Any) -> str:
    """Fill in one of the templates; the values every template needs are filled in here."""
    files = file_limit()
    return _environment.get_template(template).render(
        worker_user=worker_user(),
        file_limit=files,
        worker_connections=min(MAX_WORKER_CONNECTIONS, files // 2),
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
    make_private(run_dir)
    config = run_dir / "nginx.conf"
    write_private(config, config_text)  # it may hold the secret the workers believe nginx by
    said = run_dir / "stderr.log"  # what nginx says before its error log is open: a bad config, a busy port
    command = [nginx, "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log"), "-g", "daemon off;"]
    with os.fdopen(os.open(said, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as stderr:
        # nginx creates its logs 0644; under this umask they are 0600, as the rest of the run folder.
        process = spawn(command, stderr=stderr, umask=PRIVATE_UMASK)
    try:
        for port in ports:
            wait_until_listening(port, process, what)
    except ProgramError as error:
        stop_process(process)
        raise ProgramError(f"{error}. {said.read_text(errors='replace').strip()}".strip()) from None
    return process


def readable_by_everyone(folder: Path) -> bool:
    """Whether any user can reach `folder` and read the files in it (permission bits for "others")."""
    folder = folder.resolve()
    for parent in [*reversed(folder.parents), folder]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return all(
        path.is_symlink()  # never followed: nginx refuses every link in static/
        or path.stat().st_mode & (stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
        for path in [folder, *folder.rglob("*")]
    )


def static_dir_for_workers(static_dir: Path) -> tuple[Path, Path | None]:
    """The folder nginx's workers serve static files from, and a folder to remove when done (or None).

    Started as root, the workers run as an unprivileged user who may not be able to
    reach the project (a checkout inside a private folder, as CI makes). Then they get a
    mirror of static/ in a folder they can reach (see refresh_mirror), which the stack
    refreshes while it runs.
    """
    if not worker_user() or readable_by_everyone(static_dir):
        return static_dir, None
    mirror_root = Path(tempfile.mkdtemp(prefix="webapp-static-"))
    mirror_root.chmod(0o755)
    mirror = mirror_root / "static"
    refresh_mirror(static_dir, mirror)
    return mirror, mirror_root


def refresh_mirror(source: Path, mirror: Path) -> bool:
    """Make `mirror` hold what `source` holds now; return whether anything had to change.

    Files are hard links where possible, so a file edited in place shows at once, else
    copies with the same times (the same ETags). A file replaced whole (a new pre-render,
    an editor that saves by renaming) is a new file: it shows once this runs again.
    Symbolic links stay links, which nginx refuses as it refuses them in static/ itself.
    """
    changed = False
    wanted = {Path(".")}
    for folder, folders, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        for name in [*folders, *files]:
            wanted.add(relative / name)
            changed |= _mirror_one(Path(folder) / name, mirror / relative / name, mirror)
    for path in sorted(mirror.rglob("*"), key=lambda path: len(path.parts), reverse=True):
        if path.relative_to(mirror) not in wanted:
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
            changed = True
    return changed


def _mirror_one(original: Path, copy: Path, mirror: Path) -> bool:
    if not mirror.exists():
        mirror.mkdir(mode=0o755, parents=True)
        mirror.chmod(0o755)
    if original.is_symlink():
        if copy.is_symlink() and os.readlink(copy) == os.readlink(original):
            return False
        _replace_with(copy, lambda temporary: os.symlink(os.readlink(original), temporary))
        return True
    if original.is_dir():
        if copy.is_dir() and not copy.is_symlink():
            return False
        copy.mkdir(mode=0o755)
        copy.chmod(0o755)
        return True
    if _same_file(original, copy):
        return False
    _replace_with(copy, lambda temporary: _link_or_copy(original, temporary))
    return True


def _same_file(original: Path, copy: Path) -> bool:
    try:
        source, mirrored = original.stat(), copy.lstat()
    except FileNotFoundError:
        return False
    linked = (source.st_ino, source.st_dev) == (mirrored.st_ino, mirrored.st_dev)
    copied = stat.S_ISREG(mirrored.st_mode) and (source.st_size, source.st_mtime_ns) == (
        mirrored.st_size,
        mirrored.st_mtime_ns,
    )
    return linked or copied


def _replace_with(copy: Path, make: Callable[[Path], object]) -> None:
    """Make the new entry beside `copy`, then rename it over: nginx sees the old file or the new one."""
    temporary = copy.with_name(f".{copy.name}.mirroring")
    temporary.unlink(missing_ok=True)
    make(temporary)
    temporary.replace(copy)


def _link_or_copy(original: Path, destination: Path) -> None:
    if original.stat().st_mode & stat.S_IROTH:
        try:
            os.link(original, destination)
            return
        except OSError:  # another file system
            pass
    # With the file's own mode: one that others may not read stays so, and nginx refuses it (403), as it
    # would in static/ itself.
    shutil.copy2(original, destination)


def cache_dir_for_workers(run_dir: Path) -> tuple[Path, Path | None]:
    """The folder for nginx's cache, and a folder to remove when done (or None).

    nginx makes the cache folder for its workers, but started as root its workers
    cannot write into a run directory inside a private folder (as CI makes): then the
    cache goes into a temporary folder of its own.
    """
    if not worker_user() or _reachable_by_everyone(run_dir):
        return run_dir / "cache", None
    cache_root = Path(tempfile.mkdtemp(prefix="webapp-cache-"))
    cache_root.chmod(0o755)
    return cache_root / "cache", cache_root


def _reachable_by_everyone(folder: Path) -> bool:
    """Whether any user may pass through every folder on the way to `folder` (those that exist yet)."""
    folder = folder.resolve()
    return all(path.stat().st_mode & stat.S_IXOTH for path in [*folder.parents, folder] if path.exists())
