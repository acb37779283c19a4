"""The guestbook: dynamic content that comes from the database.

A page with a form (Post/Redirect/Get) and a JSON API over the same table.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, field_validator
from starlette.concurrency import run_in_threadpool

from webapp.database import (
    MESSAGE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    UNAVAILABLE,
    UNAVAILABLE_RESPONSE,
    Database,
    DatabaseUnavailable,
    Entry,
)
from webapp.pages import PageViews
from webapp.templating import render

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class InvalidText(ValueError):
    """What is wrong with one field, as a sentence (str) and as parts a page can translate."""

    def __init__(self, field: str, problem: str, *, max_length: int, length: int = 0) -> None:
        sentences = {
            "empty": f"{field} must not be empty",
            "too_long": f"{field} must be at most {max_length} characters (it has {length})",
            "control": f"{field} must not contain control characters",
        }
        super().__init__(sentences[problem])
        self.field, self.problem, self.max_length, self.length = field, problem, max_length, length


def clean_text(value: str, *, field: str, max_length: int, allow_newlines: bool) -> str:
    """Given raw user text, return it trimmed; raise InvalidText when it is not acceptable."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidText(field, "empty", max_length=max_length)
    if len(text) > max_length:
        raise InvalidText(field, "too_long", max_length=max_length, length=len(text))
    allowed = {"\n"} if allow_newlines else set()
    if any(unicodedata.category(char) == "Cc" and char not in allowed for char in text):
        raise InvalidText(field, "control", max_length=max_length)
    return text


class EntryIn(BaseModel):
    """A new guestbook entry. Both fields are trimmed; the name is 1-40 characters on one line,
    the message 1-500 characters and may have line breaks; no other control characters."""

    model_config = ConfigDict(extra="forbid")
    name: str
    message: str

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        return clean_text(value, field="name", max_length=NAME_MAX_LENGTH, allow_newlines=False)

    @field_validator("message")
    @classmethod
    def _clean_message(cls, value: str) -> str:
        return clean_text(value, field="message", max_length=MESSAGE_MAX_LENGTH, allow_newlines=True)


class EntryOut(BaseModel):
    id: int
    name: str
    message: str
    created_at: datetime

    @classmethod
    def of(cls, entry: Entry) -> EntryOut:
        assert entry.id is not None
        return cls(id=entry.id, name=entry.name, message=entry.message, created_at=entry.created_at)


class EntryList(BaseModel):
    entries: list[EntryOut]


def _database(request: Request) -> Database:
    return request.app.state.database


api_router = APIRouter(prefix="/api/guestbook", tags=["guestbook"])


@api_router.post("", status_code=status.HTTP_201_CREATED, responses={**UNAVAILABLE_RESPONSE, 413: {}})
def create_entry(request: Request, entry: EntryIn) -> EntryOut:
    """Store a guestbook entry and return it with its id and time."""
    try:
        return EntryOut.of(_database(request).add_entry(entry.name, entry.message))
    except DatabaseUnavailable:
        raise HTTPException(status_code=503, detail=UNAVAILABLE) from None


@api_router.get("", responses=UNAVAILABLE_RESPONSE)
def list_entries(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many entries, newest first.")] = DEFAULT_LIMIT,
) -> EntryList:
    """The newest guestbook entries first."""
    try:
        return EntryList(entries=[EntryOut.of(entry) for entry in _database(request).recent_entries(limit)])
    except DatabaseUnavailable:
        raise HTTPException(status_code=503, detail=UNAVAILABLE) from None


page_router = APIRouter(include_in_schema=False)


def render_page(
    request: Request,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: list[InvalidText] | None = None,
    unavailable: bool = False,
) -> Response:
    database = _database(request)
    try:
        entries: list[Entry] | None = database.recent_entries(DEFAULT_LIMIT)
        views = PageViews(database.count_view("/guestbook"))
    except DatabaseUnavailable:
        entries, views, unavailable = None, PageViews(None), True
    return render(
        request,
        "guestbook.html",
        {
            "entries": entries,
            "views": views,
            "form": form or {"name": "", "message": ""},
            "errors": errors or [],
            "unavailable": unavailable,
            "name_max": NAME_MAX_LENGTH,
            "message_max": MESSAGE_MAX_LENGTH,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


@page_router.get("/guestbook")
def guestbook_page(request: Request) -> Response:
    return render_page(request)


@page_router.post("/guestbook")
async def post_guestbook_form(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        raise HTTPException(status_code=415, detail=f"Send the form as {FORM_CONTENT_TYPE}.")
    try:
        fields = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status_code=400, detail="The form could not be read: it is not valid UTF-8.") from None
    form = {key: fields.get(key, [""])[0] for key in ("name", "message")}
    errors = []
    cleaned = {}
    for key, max_length in (("name", NAME_MAX_LENGTH), ("message", MESSAGE_MAX_LENGTH)):
        try:
            cleaned[key] = clean_text(form[key], field=key, max_length=max_length, allow_newlines=key == "message")
        except InvalidText as error:
            errors.append(error)
    if errors:
        return await run_in_threadpool(render_page, request, status_code=422, form=form, errors=errors)
    try:
        await run_in_threadpool(_database(request).add_entry, cleaned["name"], cleaned["message"])
    except DatabaseUnavailable:
        return await run_in_threadpool(render_page, request, status_code=503, form=form, unavailable=True)
    return RedirectResponse(request.url_for("guestbook_page"), status_code=status.HTTP_303_SEE_OTHER)
