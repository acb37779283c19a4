"""File permissions that hold for the process under test, even when the tests run as root (as CI does).

Root reads any file, so a test of "the server may not read this file" needs a server
that is not all-powerful. Switching to another user would need a checkout and a Python
that user can reach, which CI's private checkout is not. So the server runs as root
without the two capabilities that let root ignore permissions (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH): permission bits then apply to it as to anyone, and it still
reaches the checkout it owns.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tools.nginx import UNPRIVILEGED_USER

WITHOUT_ROOT_POWERS = ["--bounding-set", "-dac_override,-dac_read_search", "--"]


def make_unreadable(path: Path) -> None:
    """Make a file or folder that neither the server run by `without_root_powers()` nor nginx's workers may
    read (or, for a folder, enter). As root the permission bits for "others" stay set, so the stack still
    serves static/ itself and not a readable copy of it (tools/nginx.py static_dir_for_workers)."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    # Root owns it (its bits: none) and nginx's workers' group has it (none either); others may read.
    os.chown(path, 0, pwd.getpwnam(UNPRIVILEGED_USER).pw_gid)
    path.chmod(0o005 if path.is_dir() else 0o004)


def without_root_powers() -> list[str]:
    """The command prefix that runs a program with permission bits applied to it: none for a user; for root,
    setpriv without the capabilities above. Skips the test where that is impossible (fails under CI)."""
    reason = _why_permissions_cannot_apply()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test file permissions: {reason}")
        pytest.skip(reason)
    return [shutil.which("setpriv") or "setpriv", *WITHOUT_ROOT_POWERS] if os.geteuid() == 0 else []


@functools.cache
def _why_permissions_cannot_apply() -> str:
    """Why a program started with `without_root_powers()`'s prefix could still read an unreadable file, or ""."""
    if os.geteuid() != 0:
        return ""
    if shutil.which("setpriv") is None:
        return "running as root, and setpriv (util-linux) is not installed to drop root's powers"
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_text("secret")
        make_unreadable(probe)
        command = [shutil.which("setpriv") or "setpriv", *WITHOUT_ROOT_POWERS, sys.executable, "-c"]
        tried = subprocess.run(
            [*command, "import sys; open(sys.argv[1]).read()", str(probe)], capture_output=True, text=True, timeout=30
        )
    if "PermissionError" in tried.stderr:
        return ""
    return f"running as root, and setpriv could not take root's power to read any file: {tried.stderr.strip()}"
