"""The files of the lesson's loop, and which of them the learner has saved since the last look.

Only these are watched: the code the site runs (webapp/main.py), the lesson's own app (lesson/main.py),
and the folders whose edits show without a restart (templates/, translations/, static/). What is kept of
each file is its modification time and size, never its content.

A scan of these few dozen files is a few dozen `stat` calls, about 0.1 ms; the practice page's stream
makes one a few times a second while it is open, and nothing when it is closed. A watcher thread
(watchfiles, which uvicorn's reloader uses) would cost more than that, and on some mounts (WSL, Docker)
it needs polling anyway.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

CODE, LESSON, TEMPLATE, TRANSLATION, STATIC = "code", "lesson", "template", "translation", "static"
SAVED, CREATED, DELETED = "saved", "created", "deleted"
# What editors leave beside a file while saving it: Vim's 4913 probe and backups, Emacs' #locks#, dot-files.
EDITOR_LEFTOVERS = ("4913",)
MAX_FILES_PER_FOLDER = 2000  # a folder grown past this (a copied node_modules, say) is not scanned further


@dataclass(frozen=True)
class Edit:
    kind: str  # CODE, LESSON, TEMPLATE, TRANSLATION or STATIC
    path: str  # relative to the project, with "/": "templates/dynamic.html"
    change: str  # SAVED, CREATED or DELETED
    modified_ns: int  # when it was saved (0 for DELETED)


Stamp = tuple[int, int]  # modification time (ns) and size


@dataclass(frozen=True)
class Watched:
    """Where the files of the loop are: the project folder, and the three folders the site serves from."""

    project: Path
    templates: Path
    translations: Path
    static: Path

    @property
    def code(self) -> Path:
        return self.project / "webapp" / "main.py"

    @property
    def lesson(self) -> Path:
        return self.project / "lesson" / "main.py"

    def folders(self) -> tuple[tuple[str, Path], ...]:
        return ((TEMPLATE, self.templates), (TRANSLATION, self.translations), (STATIC, self.static))

    def shown(self, path: Path) -> str:
        """A watched path as the page shows it: relative to the project where it can be."""
        try:
            return path.relative_to(self.project).as_posix()
        except ValueError:
            return path.as_posix()


def stamp_of(path: Path) -> Stamp | None:
    """Given a file, return its modification time and size, or None if it is not there (or not a file)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size) if stat.S_ISREG(status.st_mode) else None


def snapshot(watched: Watched) -> dict[str, tuple[str, Stamp]]:
    """Given where the files are, return each watched file's kind and stamp, by its shown path."""
    files: dict[str, tuple[str, Stamp]] = {}
    for kind, file in ((CODE, watched.code), (LESSON, watched.lesson)):
        stamp = stamp_of(file)
        if stamp is not None:
            files[watched.shown(file)] = (kind, stamp)
    for kind, folder in watched.folders():
        prefix = watched.shown(folder) + "/"
        for relative, stamp in _files_in(str(folder)):
            files[prefix + relative] = (kind, stamp)
    return files


def edits_between(before: dict[str, tuple[str, Stamp]], after: dict[str, tuple[str, Stamp]]) -> list[Edit]:
    """Given two snapshots, return what was saved, created or deleted in between, in path order."""
    edits = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if new is None and old is not None:
            edits.append(Edit(old[0], path, DELETED, 0))
        elif new is not None and old is None:
            edits.append(Edit(new[0], path, CREATED, new[1][0]))
        elif new is not None and old is not None and new[1] != old[1]:
            edits.append(Edit(new[0], path, SAVED, new[1][0]))
    return edits


def _files_in(folder: str) -> list[tuple[str, Stamp]]:
    """Given a folder, return the files under it (their paths relative to it, with "/") and their stamps."""
    found: list[tuple[str, Stamp]] = []
    pending = [("", folder)]
    while pending and len(found) < MAX_FILES_PER_FOLDER:
        relative, path = pending.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith((".", "#")) or entry.name.endswith("~") or entry.name in EDITOR_LEFTOVERS:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((relative + entry.name + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    status = entry.stat(follow_symlinks=False)
                    found.append((relative + entry.name, (status.st_mtime_ns, status.st_size)))
            except OSError:  # removed while we looked
                continue
    return found
