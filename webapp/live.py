"""/live: the projector page. Every request the site answers, as it arrives, split by who answered it.

The page is for a class: everyone may open it, and each student sees their own requests marked. Nobody sees
an address, a query string or a User-Agent (webapp/livefeed.py keeps them on the server), and the path of a
request for an address the site does not have only its own visitor sees.
The stream (server-sent events, sse-starlette) ends by itself when the server stops, within WAIT_SECONDS,
and, under `uvicorn --reload`, before a code save restarts the process: an open projector never holds up a
reload or the stack's stop.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import AppStatus
from starlette.background import BackgroundTask

from webapp import network
from webapp.caching import MADE_FOR_THIS_REQUEST
from webapp.deps import CountedView
from webapp.errors import translator
from webapp.head import is_head
from webapp.i18n import N_
from webapp.livefeed import AppLog, Feed, NginxLog, now_ms, parse_id
from webapp.practice import CodeWatch, Practice
from webapp.pseudonyms import Pseudonyms
from webapp.requestlog import RequestLog
from webapp.settings import Settings
from webapp.site import site_of
from webapp.templating import render
from webapp.terminal import text as _
from webapp.visitors import OWNER_ADDRESSES, came_through_nginx, is_owner, visitor_of

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

STREAMS_PER_WORKER = 150  # open /live pages one process streams to; more get 503
# From one address, on a uvicorn alone (behind the stack nginx counts them across its workers: CLIENT_LIMITS).
STREAMS_PER_ADDRESS = 6
ALIVE_SECONDS = 2.0  # a heartbeat the page sees (idle proxies keep the connection; the page knows it is alive)
WAIT_SECONDS = 0.25  # how often a stream looks whether the server is stopping
# Under --reload, how often it looks whether webapp/main.py was saved: uvicorn's reloader stops the process
# about 50 ms after a save and waits 0.1 s for connections before it says "Waiting for connections to close".
RELOAD_WAIT_SECONDS = 0.05
SEND_TIMEOUT_SECONDS = 10.0  # a page that reads nothing this long is dropped (it reconnects and is told what it missed)
RETRY_MILLISECONDS = 1000
RETRY_AFTER_SECONDS = 10
FIRST_REQUESTS = 30  # what a newly opened page starts with: the last requests before it opened
EVENT_STREAM = "text/event-stream"
MAX_ID_LENGTH = 80
WORKER_BUSY = N_("This server process is streaming the live view to too many pages. Try again in a moment.")
ADDRESS_BUSY = N_("Too many live pages are open from this address: close one and try again in a moment.")


@dataclass
class Live:
    """What /live needs in this process: its feed (made when the first page opens) and its open streams."""

    settings: Settings
    request_log: RequestLog
    practice: Practice
    streams: int = 0
    per_address: Counter[str] = field(default_factory=Counter)
    _feed: Feed | None = None

    @property
    def behind_the_stack(self) -> bool:
        return self.settings.stack_run_dir is not None

    def feed(self) -> Feed:
        if self._feed is None:
            run_dir = self.settings.stack_run_dir
            if run_dir is not None:
                self._feed = Feed(NginxLog(run_dir, Pseudonyms(OWNER_ADDRESSES, run_dir)))
            else:
                own = OWNER_ADDRESSES | set(network.reachable_addresses([self.practice.launch.host]))
                self._feed = Feed(AppLog(self.request_log, os.getpid(), Pseudonyms(frozenset(own))))
        return self._feed

    def student_urls(self) -> list[str]:
        feed = self.feed()
        if isinstance(feed.source, NginxLog):
            if not feed.pages:  # else the feed's reader keeps stack.json read (and hands its news to the pages)
                feed.source.workers.refresh(first=True)
            return feed.source.workers.student_urls
        launch = self.practice.launch
        return network.student_urls([launch.host], launch.port) if network.beyond_this_machine(launch.host) else []

    def say_where_students_connect(self) -> None:
        """A uvicorn started with --host 0.0.0.0 (or an address of a network): where students open it, and why
        a class is better served by the stack."""
        if self.behind_the_stack or not network.beyond_this_machine(self.practice.launch.host):
            return
        urls = self.student_urls()
        lines = [
            _("Students on this machine's network open:"),
            *(f"  {url}" for url in urls),
            *([network.qr_terminal(urls[0]).rstrip("\n")] if urls else []),
            _(
                "uvicorn alone has no protection against slow clients and no limits per address: one student's"
                " browser or program can hold up everyone. For a class, run the stack: python -m tools.stack --class"
                " (docs/class.md)."
            ),
            _("If students cannot connect:"),
            *(f"  - {system}: {sentence}" for system, sentence in network.reach_advice(_, self.practice.launch.port)),
        ]
        logger.warning("%s", "\n".join(lines))

    def workers(self) -> list[dict[str, Any]]:
        source = self.feed().source
        return source.workers.workers if isinstance(source, NginxLog) else []


def live_for(settings: Settings, request_log: RequestLog, practice: Practice) -> Live:
    return Live(settings, request_log, practice)


def get_live(request: Request) -> Live:
    return site_of(request.app).live


LiveDep = Annotated[Live, Depends(get_live)]


@router.get("/live", response_class=HTMLResponse)
async def live_page(request: Request, views: CountedView, live: LiveDep) -> Response:
    say = translator(request)
    urls = live.student_urls()
    context = {
        "views": views,
        "unavailable": views.unavailable,
        "events_url": request.app.url_path_for("live_events"),
        "source": "nginx" if live.behind_the_stack else "app",
        "addresses": urls,
        "qr_svg": network.qr_svg(urls[0]) if urls else "",
        "listening_beyond_loopback": bool(urls),
        "reach_advice": network.reach_advice(say, request.url.port or 80),
        "workers": live.workers(),
    }
    response = render(request, "live.html", context, database_ms=views.database_ms)
    response.headers["Cache-Control"] = MADE_FOR_THIS_REQUEST
    return response


@router.get("/live/events")
async def live_events(
    request: Request,
    live: LiveDep,
    last_event_id: Annotated[str | None, Header(max_length=MAX_ID_LENGTH)] = None,
    # The page's own restart of a stream (after a refusal or nginx's 502) cannot send the header: it says it here.
    resume_after: Annotated[str | None, Query(alias="last_event_id", max_length=MAX_ID_LENGTH)] = None,
) -> Response:
    if is_head(request.scope):  # what the stream would start with, and no stream
        return Response(media_type=EVENT_STREAM, headers={"Cache-Control": MADE_FOR_THIS_REQUEST})
    say = translator(request)
    viewer = visitor_of(request.scope)
    if live.streams >= STREAMS_PER_WORKER:
        raise HTTPException(503, say(WORKER_BUSY), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    counted_here = not came_through_nginx(request.scope) and not is_owner(request.scope)
    if counted_here and live.per_address[viewer] >= STREAMS_PER_ADDRESS:
        raise HTTPException(429, say(ADDRESS_BUSY), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    ticket = Ticket(live, viewer if counted_here else None)
    stream = LiveStream(live, live.feed(), viewer, last_event_id or resume_after or "", ticket.release)
    return EventSourceResponse(
        stream.events(),
        ping=0,  # the stream says "alive" itself, as an event the page can see
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": MADE_FOR_THIS_REQUEST},
        background=BackgroundTask(ticket.release),  # also when the stream never starts (HEAD, a client gone)
    )


class Ticket:
    """One open stream, counted from the moment it is allowed, released once whatever ends it."""

    def __init__(self, live: Live, address: str | None) -> None:
        self.live, self.address, self.open = live, address, True
        live.streams += 1
        if address is not None:
            live.per_address[address] += 1

    def release(self) -> None:
        if not self.open:
            return
        self.open = False
        self.live.streams -= 1
        if self.address is not None:
            self.live.per_address[self.address] -= 1
            if self.live.per_address[self.address] <= 0:
                del self.live.per_address[self.address]


@dataclass
class LiveStream:
    live: Live
    feed: Feed
    viewer: str
    last_event_id: str
    release: Callable[[], None]

    async def events(self) -> AsyncIterator[ServerSentEvent | bytes]:
        self.feed.open_page()
        try:
            async for event in self._events():
                yield event
        finally:
            self.feed.close_page()
            self.release()

    async def _events(self) -> AsyncIterator[ServerSentEvent | bytes]:
        feed = self.feed
        cursor, missed, known = self._start()
        yield ServerSentEvent(data=self._hello(missed, known, cursor), event="hello", retry=RETRY_MILLISECONDS)
        for worker_event in self._worker_events_missed(cursor):
            yield self._event("worker", worker_event)
        code = CodeWatch(self.live.practice)
        wait = RELOAD_WAIT_SECONDS if self.live.practice.restarts_on_code_save else WAIT_SECONDS
        silent_since = _now()
        while not self._stopping(code):
            skipped, items = feed.since(cursor)
            if skipped:
                yield self._event("missed", {"count": skipped, "why": "slow"})
            if items:  # one write for what came since the last: each write costs the worker more than its bytes
                yield b"".join(item.encoded_for(self.viewer) for item in items)
            if items or skipped:
                cursor = items[-1].seq if items else feed.seq
                silent_since = _now()
            if _now() - silent_since >= ALIVE_SECONDS:
                yield self._event("alive", {"pid": os.getpid()})
                silent_since = _now()
            await feed.wait(cursor, wait)

    def _start(self) -> tuple[int, int, bool]:
        """Where this page starts in the feed, how many requests it missed, and whether that count is known."""
        feed = self.feed
        if not self.last_event_id:
            return feed.recent_requests(FIRST_REQUESTS), 0, True
        position = feed.position_of(self.last_event_id)
        if position is not None:
            return position, 0, True
        oldest = feed.seq - len(feed.ring)
        missed = feed.source.missed_since(self.last_event_id, feed.oldest_answer())
        return oldest, missed or 0, missed is not None

    def _worker_events_missed(self, cursor: int) -> list[dict[str, Any]]:
        """A page back after a break this process's ring does not cover (its worker died, say): the workers'
        deaths and returns since its last request, which it would otherwise never hear of."""
        source, last = self.feed.source, parse_id(self.last_event_id)
        if not isinstance(source, NginxLog) or last is None or self.feed.position_of(self.last_event_id) is not None:
            return []
        in_ring = {_worker_key(item.data) for item in self.feed.since(cursor)[1] if item.kind == "worker"}
        return [
            event
            for event in source.workers.events
            if isinstance(event.get("at"), int) and event["at"] > last[2] and _worker_key(event) not in in_ring
        ]

    def _hello(self, missed: int, known: bool, cursor: int) -> str:
        source = self.feed.source
        you = source.pseudonyms.number(self.viewer)
        _skipped, replayed = self.feed.since(cursor)
        return _json(
            {
                "source": "nginx" if self.feed.nginx else "app",
                "you": you,
                "instructor": you == 0,
                "workers": source.workers.workers if isinstance(source, NginxLog) else [],
                "missed": missed,
                "missed_known": known,
                "pid": os.getpid(),
                "history": sum(1 for item in replayed if item.answer is not None),
            }
        )

    def _stopping(self, code: CodeWatch) -> bool:
        """The server is stopping (Ctrl+C, the stack's SIGTERM), or a code save is about to restart it."""
        if AppStatus.should_exit:
            return True
        return self.live.practice.restarts_on_code_save and code.look(os.getpid()) is not None

    @staticmethod
    def _event(name: str, data: dict[str, Any]) -> ServerSentEvent:
        return ServerSentEvent(data=_json({"at": now_ms(), **data}), event=name)


def _worker_key(event: dict[str, Any]) -> tuple[Any, ...]:
    return event.get("number"), event.get("what"), event.get("at")


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


def _now() -> float:
    return time.monotonic()
