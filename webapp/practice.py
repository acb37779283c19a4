"""/practice: the lesson's loop, checked as the learner goes (start, /ping, edit, reload, see).

The page hears what happens on the server through one stream (server-sent events, sse-starlette):
who this process is, each file of the loop the learner saves, the requests they make, and the problems
a saved file has. It ends its stream on its own when a code save is about to restart the process, so an
open page never holds up `--reload` (uvicorn waits for open connections before it stops a process), and
sse-starlette ends it when the server is stopped. Only the person at the server's keyboard (the owner)
gets the stream: the files are theirs. What the learner has done so far lives in their browser.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from webapp import edits
from webapp.caching import MADE_FOR_THIS_REQUEST
from webapp.deps import CountedView, ProcessDep, RequestLogDep
from webapp.edits import Edit, Watched
from webapp.errors import translator
from webapp.i18n import N_
from webapp.launch import Launch, this_launch, watches
from webapp.paths import PROJECT_ROOT
from webapp.process import ProcessInfo
from webapp.requestlog import LoggedRequest, RequestLog
from webapp.settings import Settings
from webapp.site import Site, site_of
from webapp.templateerrors import check_template
from webapp.templating import render
from webapp.terminal import text as _
from webapp.visitors import came_through_nginx, is_owner, visitor_of

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

# The commands README.md gives to start the site, per system: the page shows the learner's.
RELOAD_COMMANDS = {
    "posix": ".venv/bin/uvicorn webapp.main:app --reload --reload-dir webapp",
    "nt": r".venv\Scripts\uvicorn webapp.main:app --reload --reload-dir webapp",
}
LESSON_COMMANDS = {
    "posix": "cd lesson\n../.venv/bin/uvicorn main:app --reload",
    "nt": "cd lesson\n..\\.venv\\Scripts\\uvicorn main:app --reload",
}
# The page's own /ping asks carry this query, so the learner's own visit to /ping is told apart.
PAGE_PING_QUERY = b"from=practice"
TICK_SECONDS = 0.1  # how often webapp/main.py is looked at (see CodeWatch)
SCAN_EVERY_TICKS = 5  # the other folders, a few dozen files: every 0.5 s
ALIVE_EVERY_TICKS = 10  # "still here", once a second: the page counts a server silent for 3 s as down
# The reloader restarts the process within a fraction of a second of a save; still the same process
# after this long, it is not going to.
STALE_AFTER_SECONDS = 2.0
RESTARTING, CODE_SAVED, STALE = "restarting", "code-saved", "stale"
RETRY_MILLISECONDS = 300  # how soon the browser reconnects after a stream ends (a restart takes longer)
MAX_STREAMS = 8  # open practice pages per process: tabs of one learner, never a crowd
SEND_TIMEOUT_SECONDS = 5.0  # a page that stops reading is dropped
MAX_SAID = 1000  # saves remembered as said in the terminal: a long session's worth

NOT_OWNER = N_("This page follows the files of the computer the server runs on, so only that computer can follow them.")
TOO_MANY_PAGES = N_("The practice page is open in too many tabs. Close one and reload this one.")


@dataclass
class Practice:
    """What the practice page needs to know about this process: how it started and what it loaded."""

    watched: Watched
    launch: Launch = field(default_factory=this_launch)
    cwd: Path = field(default_factory=Path.cwd)  # where uvicorn was started: --reload-dir is relative to it
    started_at: float = field(default_factory=time.time)
    code_loaded: edits.Stamp | None = None  # webapp/main.py as this process loaded it
    streams: int = 0
    _said: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.code_loaded is None:
            self.code_loaded = edits.stamp_of(self.watched.code)

    @property
    def restarts_on_code_save(self) -> bool:
        return watches(self.launch, self.watched.code, self.cwd)

    def say_once(self, key: str, saved_ns: int, line: str) -> None:
        """Write a line to the terminal once per save, however many pages are open."""
        if (key, saved_ns) not in self._said:
            if len(self._said) >= MAX_SAID:
                self._said.clear()
            self._said.add((key, saved_ns))
            logger.warning("%s", line)


def practice_for(settings: Settings) -> Practice:
    """The practice page's facts for an app made with these settings (and this process)."""
    return Practice(Watched(PROJECT_ROOT, settings.templates_dir, settings.translations_dir, settings.static_dir))


def get_practice(request: Request) -> Practice:
    return site_of(request.app).practice


PracticeDep = Annotated[Practice, Depends(get_practice)]


@router.get("/practice", response_class=HTMLResponse)
async def practice_page(request: Request, views: CountedView, practice: PracticeDep) -> Response:
    context = {
        "views": views,
        "unavailable": views.unavailable,
        "launch": practice.launch,
        "app_file": practice.watched.shown(practice.watched.code),
        "reload_command": RELOAD_COMMANDS[_os_key()],
        "lesson_command": LESSON_COMMANDS[_os_key()],
        "owner": is_owner(request.scope),
    }
    response = render(request, "practice.html", context, database_ms=views.database_ms)
    response.headers["Cache-Control"] = MADE_FOR_THIS_REQUEST
    return response


@router.get("/practice/events")
async def practice_events(request: Request, practice: PracticeDep, process: ProcessDep, log: RequestLogDep) -> Response:
    say = translator(request)
    if not is_owner(request.scope):
        raise HTTPException(status_code=403, detail=say(NOT_OWNER))
    if practice.streams >= MAX_STREAMS:
        raise HTTPException(status_code=429, detail=say(TOO_MANY_PAGES), headers={"Retry-After": "5"})
    site = site_of(request.app)
    stream = PracticeStream(
        site, practice, process, log, visitor_of(request.scope), came_through_nginx(request.scope), say
    )
    return EventSourceResponse(
        stream.events(),
        ping=0,  # the stream says "alive" itself, as an event the page can see (a comment it cannot)
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": MADE_FOR_THIS_REQUEST},
    )


@dataclass
class PracticeStream:
    site: Site
    practice: Practice
    process: ProcessInfo
    log: RequestLog
    visitor: str
    through_stack: bool
    say: Callable[[str], str]  # the page's language: the problems' sentences are said in it

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        self.practice.streams += 1
        try:
            async for event in self._events():
                yield event
        finally:
            self.practice.streams -= 1

    async def _events(self) -> AsyncIterator[ServerSentEvent]:
        watched = self.practice.watched
        files = edits.snapshot(watched)
        problems = self._problems(files)
        seen_requests = self.log.added
        yield self._event("hello", self._hello(problems), retry=RETRY_MILLISECONDS)
        code = CodeWatch(self.practice)
        for tick in itertools.count(1):
            await asyncio.sleep(TICK_SECONDS)
            # This process's requests first: after a code save it may not get to say them.
            if self.log.added != seen_requests:
                for entry in self.log.newer_than(seen_requests):
                    if entry.visitor == self.visitor and _is_practised(entry):
                        yield self._event("request", _request_facts(entry))
                seen_requests = self.log.added
            code_event = code.look(self.process.pid)
            if code_event is not None:
                yield self._event(*code_event)
                if code_event[0] == RESTARTING:
                    return  # the reloader is stopping this process: an open stream would hold it up
            if tick % SCAN_EVERY_TICKS == 0:
                now_files = edits.snapshot(watched)
                changed = [edit for edit in edits.edits_between(files, now_files) if edit.kind != edits.CODE]
                files = now_files
                for edit in changed:
                    yield self._edit_event(edit)
                if changed and (now_problems := self._problems(files)) != problems:
                    problems = now_problems
                    yield self._event("problems", problems)
            if tick % ALIVE_EVERY_TICKS == 0:
                yield self._event("alive", {"pid": self.process.pid})

    def _hello(self, problems: list[dict[str, Any]]) -> dict[str, Any]:
        practice = self.practice
        code = edits.stamp_of(practice.watched.code)
        loaded = practice.code_loaded
        return {
            "pid": self.process.pid,
            "started_at": _ms(practice.started_at),
            "answering_since": _ms(self.log.first_at or time.time()),
            "command": practice.launch.command,
            "app": practice.launch.app,
            "reload": practice.launch.reload,
            "restarts_on_code_save": practice.restarts_on_code_save,
            "app_file": practice.watched.shown(practice.watched.code),
            "code_loaded_at": _ns_to_ms(loaded[0]) if loaded else None,
            "code_saved_at": _ns_to_ms(code[0]) if code else None,
            "through_stack": self.through_stack,
            "problems": problems,
        }

    def _edit_event(self, edit: Edit) -> ServerSentEvent:
        if edit.kind == edits.LESSON and edit.change != edits.DELETED:
            self.practice.say_once(
                "lesson",
                edit.modified_ns,
                _(
                    "%(lesson)s was saved, but this server runs %(file)s (%(app)s):"
                    " the edit does not change what it answers."
                )
                % {
                    "lesson": edit.path,
                    "file": self.practice.watched.shown(self.practice.watched.code),
                    "app": self.practice.launch.app or "webapp.main:app",
                },
            )
        return self._event(
            "edit",
            {
                "kind": edit.kind,
                "path": edit.path,
                "change": edit.change,
                "saved_at": _ns_to_ms(edit.modified_ns) if edit.modified_ns else None,
                "pid": self.process.pid,
                "url": _url_of(edit, self.practice.watched),
            },
        )

    def _problems(self, files: dict[str, tuple[str, edits.Stamp]]) -> list[dict[str, Any]]:
        """What keeps a template or a translation the learner saved from showing, said in the page's language."""
        watched = self.practice.watched
        found: dict[str, dict[str, Any]] = {}
        for catalogue in self.site.catalogues.problems():  # reads a saved .po again, as the next page would
            path = watched.shown(catalogue.path)
            found[path] = {
                "kind": edits.TRANSLATION,
                "path": path,
                "line": catalogue.line,
                "message": self.say(catalogue.message),
            }
        for path, (kind, _stamp) in sorted(files.items()):
            if kind != edits.TEMPLATE or not path.endswith(".html"):
                continue
            name = (watched.project / path).relative_to(watched.templates).as_posix()
            problem = check_template(self.site.templates, name)
            if problem is not None:
                shown = watched.shown(watched.templates / problem.name)
                found[shown] = {
                    "kind": edits.TEMPLATE,
                    "path": shown,
                    "line": problem.line,
                    "message": self.say(problem.message),
                    "detail": problem.detail,
                }
        return list(found.values())

    def _event(self, name: str, data: Any, *, retry: int | None = None) -> ServerSentEvent:
        return ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=name, retry=retry)


class CodeWatch:
    """webapp/main.py, looked at every tick: once it differs from what this process loaded, what comes of it.

    Under --reload (watching it) the process is about to be replaced: RESTARTING, and the stream ends. In time:
    uvicorn's reloader stops the process about 50 ms after a save (watchfiles waits that long for more
    changes), then gives open connections 0.1 s before it waits for them; a tick of 0.1 s ends the stream
    within that.
    Otherwise, or if the same process still runs STALE_AFTER_SECONDS after the save, the save changed
    nothing the server runs: STALE, once per save, with a line in the terminal too.
    """

    def __init__(self, practice: Practice) -> None:
        self.practice = practice
        self.current = practice.code_loaded
        self.first_seen = 0.0
        self.stale_said = False

    def look(self, pid: int) -> tuple[str, dict[str, Any]] | None:
        practice = self.practice
        code = edits.stamp_of(practice.watched.code)
        if code == practice.code_loaded:
            self.current = code
            return None
        fresh = code != self.current
        if fresh:
            self.current, self.first_seen, self.stale_said = code, time.monotonic(), False
        # A save made (or first seen) that long ago did not restart this process, and will not: say so, also
        # to a page that connects again to a process the reloader was expected to replace.
        waited = time.monotonic() - self.first_seen
        if code is not None:
            waited = max(waited, time.time() - code[0] / 1e9)
        facts = {
            "path": practice.watched.shown(practice.watched.code),
            "saved_at": _ns_to_ms(code[0]) if code else None,
            "deleted": code is None,
            "loaded_at": _ms(practice.started_at),  # the process read its code as it started
            "pid": pid,
        }
        if practice.restarts_on_code_save and waited < STALE_AFTER_SECONDS:
            return RESTARTING, facts
        if waited < STALE_AFTER_SECONDS:
            return (CODE_SAVED, facts) if fresh else None
        if self.stale_said:
            return None
        self.stale_said = True
        if code is not None:
            practice.say_once(
                STALE,
                code[0],
                _(
                    "%(file)s was saved after this server (pid %(pid)s) loaded it, and the server still runs"
                    " the code it loaded: it was started without --reload. Stop it with Ctrl+C and start it"
                    " again with: %(command)s"
                )
                % {"file": facts["path"], "pid": pid, "command": RELOAD_COMMANDS[_os_key()]},
            )
        return STALE, facts


def _is_practised(entry: LoggedRequest) -> bool:
    """Whether a request is one the practice page asks the learner to make: /ping, an address that is not
    there, /compare; never the page's own asks."""
    if entry.path == "/ping":
        return entry.query_string != PAGE_PING_QUERY
    return entry.path == "/compare" or (entry.status == 404 and entry.kind == "dynamic")


def _request_facts(entry: LoggedRequest) -> dict[str, Any]:
    target = entry.path + (f"?{entry.query}" if entry.query else "")
    # uvicorn's own access line, as the terminal shows it.
    line = (
        f'INFO:     {entry.client_address} - "{entry.method} {target} HTTP/1.1" {entry.status} {_phrase(entry.status)}'
    )
    return {"path": entry.path, "status": entry.status, "line": line, "at": _ms(entry.started_at)}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _url_of(edit: Edit, watched: Watched) -> str | None:
    """Where the learner sees an edit: a static file at its address, a template on the page that uses it."""
    if edit.kind == edits.STATIC:
        return "/static/" + (watched.project / edit.path).relative_to(watched.static).as_posix()
    return None


def _os_key() -> str:
    return "nt" if os.name == "nt" else "posix"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _ns_to_ms(nanoseconds: int) -> int:
    return nanoseconds // 1_000_000
