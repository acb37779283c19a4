"""The practice page's pieces: how a process was started, which watched files changed, and who may follow them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from webapp.edits import CODE, CREATED, DELETED, LESSON, SAVED, STATIC, TEMPLATE, Watched, edits_between, snapshot
from webapp.launch import OFF, ON, UNKNOWN, launch_of, watches
from webapp.paths import PROJECT_ROOT
from webapp.practice import LESSON_COMMANDS, RELOAD_COMMANDS


@pytest.mark.parametrize(
    ("argv", "has_parent", "command", "reload", "dirs"),
    [
        (
            [".venv/bin/uvicorn", "webapp.main:app", "--reload", "--reload-dir", "webapp"],
            True,
            "uvicorn webapp.main:app --reload --reload-dir webapp",
            ON,
            ("webapp",),
        ),
        ([r"C:\site\.venv\Scripts\uvicorn.exe", "webapp.main:app", "--reload"], True, None, ON, ()),
        (
            ["/x/site-packages/uvicorn/__main__.py", "webapp.main:app"],
            False,
            "python -m uvicorn webapp.main:app",
            OFF,
            (),
        ),
        # The reloader itself (no parent) never runs the app: whoever reads this cannot tell.
        ([".venv/bin/uvicorn", "webapp.main:app", "--reload"], False, None, UNKNOWN, ()),
        (["/usr/bin/pytest", "tests"], False, "python tests", UNKNOWN, ()),
        (
            ["uvicorn", "webapp.main:app", "--reload", "--reload-dir=webapp", "--reload-dir", "templates"],
            True,
            None,
            ON,
            ("webapp", "templates"),
        ),
    ],
)
def test_launch_is_read_from_the_command_line(
    argv: list[str], has_parent: bool, command: str | None, reload: str, dirs: tuple[str, ...]
) -> None:
    launch = launch_of(argv, has_parent=has_parent)
    assert launch.reload == reload
    assert launch.reload_dirs == dirs
    if command is not None:
        assert launch.command == command
    if reload != UNKNOWN or argv[0].endswith("uvicorn"):
        assert launch.app == "webapp.main:app"


def test_the_reloader_watches_main_py_only_through_its_folders(tmp_path: Path) -> None:
    main = tmp_path / "webapp" / "main.py"
    main.parent.mkdir()
    main.write_text("")
    assert watches(launch_of(["uvicorn", "webapp.main:app", "--reload"], has_parent=True), main, tmp_path)
    with_dir = launch_of(["uvicorn", "webapp.main:app", "--reload", "--reload-dir", "webapp"], has_parent=True)
    assert watches(with_dir, main, tmp_path)
    elsewhere = launch_of(["uvicorn", "webapp.main:app", "--reload", "--reload-dir", "templates"], has_parent=True)
    assert not watches(elsewhere, main, tmp_path)
    assert not watches(launch_of(["uvicorn", "webapp.main:app"], has_parent=False), main, tmp_path)


def _project(root: Path) -> Watched:
    for folder in ("webapp", "lesson", "templates", "translations/ko", "static/en"):
        (root / folder).mkdir(parents=True)
    for file in (
        "webapp/main.py",
        "lesson/main.py",
        "templates/a.html",
        "translations/ko/messages.po",
        "static/en/i.html",
    ):
        (root / file).write_text("v1")
    return Watched(root, root / "templates", root / "translations", root / "static")


def test_a_snapshot_holds_the_loops_files_and_no_editor_leftovers(tmp_path: Path) -> None:
    watched = _project(tmp_path)
    for leftover in ("templates/.a.html.swp", "templates/a.html~", "templates/4913", "static/#i.html#"):
        (tmp_path / leftover).write_text("x")
    (tmp_path / "webapp" / "other.py").write_text("")  # not a file of the loop
    kinds = {path: kind for path, (kind, _stamp) in snapshot(watched).items()}
    assert kinds == {
        "webapp/main.py": CODE,
        "lesson/main.py": LESSON,
        "templates/a.html": TEMPLATE,
        "translations/ko/messages.po": "translation",
        "static/en/i.html": STATIC,
    }


def test_same_size_saves_created_and_deleted_files_are_all_edits(tmp_path: Path) -> None:
    watched = _project(tmp_path)
    before = snapshot(watched)
    page = tmp_path / "static" / "en" / "i.html"
    page.write_text("v2")  # the same size: only the time tells
    os.utime(page, ns=(before["static/en/i.html"][1][0] + 1, before["static/en/i.html"][1][0] + 1))
    (tmp_path / "templates" / "a.html").unlink()
    (tmp_path / "templates" / "b.html").write_text("new")
    changes = {(edit.path, edit.change) for edit in edits_between(before, snapshot(watched))}
    assert changes == {("static/en/i.html", SAVED), ("templates/a.html", DELETED), ("templates/b.html", CREATED)}
    assert edits_between(before, before) == []


def test_a_stranger_cannot_follow_the_owners_files(client: TestClient) -> None:
    """The test client is not the owner (not 127.0.0.1): it is refused, with a sentence, and gets no stream."""
    response = client.get("/practice/events", headers={"accept-language": "ko"})
    assert response.status_code == 403
    assert "서버가 실행 중인 컴퓨터" in response.json()["detail"]
    page = client.get("/practice?lang=en")
    assert page.status_code == 200
    assert 'data-follow="no"' in page.text


@pytest.mark.parametrize("system", ["posix", "nt"])
def test_the_commands_the_page_gives_are_the_readmes(system: str) -> None:
    for readme in ("README.md", "README.en.md"):
        text = (PROJECT_ROOT / readme).read_text(encoding="utf-8")
        assert f"`{RELOAD_COMMANDS[system]}`" in text, (readme, system)
        for line in LESSON_COMMANDS[system].splitlines():
            assert line in text, (readme, line)
