"""The stack's run folder: private, and each log kept under a size."""

from __future__ import annotations

import stat
from pathlib import Path

from tools.nginx import refresh_mirror
from tools.runfolder import keep_small, make_private, write_private


def test_a_log_past_its_size_is_moved_aside_and_its_writer_goes_on_at_the_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    (tmp_path / "access.log.1").write_bytes(b"older")
    with open(log, "ab") as writer:  # in append mode, as nginx and the workers write
        writer.write(b"x" * 2000)
        writer.flush()
        assert keep_small([log, tmp_path / "missing.log"], 1000) == [log]
        writer.write(b"y" * 10)
        writer.flush()
    assert (tmp_path / "access.log.1").read_bytes() == b"x" * 2000
    assert log.read_bytes() == b"y" * 10
    assert stat.S_IMODE((tmp_path / "access.log.1").stat().st_mode) == 0o600
    assert keep_small([log], 1000) == []


def test_the_run_folder_and_what_was_in_it_become_the_users_alone(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "nginx").mkdir(parents=True)
    (run / "nginx" / "access.log").write_text("old, made 0644")
    (run / "nginx" / "access.log").chmod(0o644)
    make_private(run)
    write_private(run / "stack.json", "{}")
    assert stat.S_IMODE(run.stat().st_mode) == stat.S_IMODE((run / "nginx").stat().st_mode) == 0o700
    assert stat.S_IMODE((run / "nginx" / "access.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((run / "stack.json").stat().st_mode) == 0o600
    assert (run / "stack.json").read_text() == "{}"


def test_the_static_mirror_follows_files_replaced_added_and_removed(tmp_path: Path) -> None:
    """Started as root with a private checkout, nginx serves a mirror of static/: a later pre-render shows."""
    source, mirror = tmp_path / "static", tmp_path / "mirror" / "static"
    (source / "prerendered").mkdir(parents=True)
    (source / "index.html").write_text("home")
    (source / "prerendered" / "dynamic.html").write_text("rendered at 10:00")
    (source / "gone.css").write_text("old")
    (source / "link.html").symlink_to("index.html")
    assert refresh_mirror(source, mirror)
    assert (mirror / "prerendered" / "dynamic.html").read_text() == "rendered at 10:00"
    assert not refresh_mirror(source, mirror)  # nothing changed, nothing done

    # The pre-render command writes a new file and renames it over the old one (a new inode).
    replacement = source / "prerendered" / ".dynamic.html.tmp"
    replacement.write_text("rendered at 10:05")
    replacement.replace(source / "prerendered" / "dynamic.html")
    (source / "gone.css").unlink()
    (source / "en").mkdir()
    (source / "en" / "index.html").write_text("home (en)")
    assert refresh_mirror(source, mirror)
    assert (mirror / "prerendered" / "dynamic.html").read_text() == "rendered at 10:05"
    assert (mirror / "en" / "index.html").read_text() == "home (en)"
    assert not (mirror / "gone.css").exists()
    assert (mirror / "link.html").is_symlink()  # refused by nginx there as in static/ itself
    assert sorted(path.name for path in mirror.rglob("*")) == sorted(path.name for path in source.rglob("*"))
