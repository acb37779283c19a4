"""The guestbook: dynamic content that comes from the database.

A page with a form (Post/Redirect/Get) and a JSON API over the same table.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from starlette.requests import ClientDisconnect

from webapp.crossorigin import cross_site_origin
from webapp.deps import CountedView, DatabaseDep, PageViews, PostLimiterDep, count_page_view
from webapp.errors import DATABASE_UNAVAILABLE_RESPONSE, TranslatableProblem, translator
from webapp.i18n import N_
from webapp.links import path_for
from webapp.storage import MESSAGE_MAX_LENGTH, NAME_MAX_LENGTH, DatabaseUnavailable, Storage
from webapp.templating import render
from webapp.visitors import visitor_of

if TYPE_CHECKING:  # the stored row's type: webapp.database loads with SQLAlchemy, on first use (webapp/storage.py)
    from webapp.database import Entry

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# The form has two fields; a browser or an extension may add a few. More is not a form of this page.
MAX_FORM_FIELDS = 10


# What is wrong with a field, one sentence per field so that Korean can choose each particle for its word
# (이름을, 메시지를): the page's list and the JSON API's `msg` both say these, in the visitor's language.
SENTENCES = {
    ("name", "empty"): N_("Please enter your name."),
    ("name", "too_long"): N_("A name can be at most %(max)s characters (this one has %(length)s)."),
    ("name", "control"): N_("A name cannot contain control characters."),
    ("name", "surrogate"): N_("A name must be Unicode text: it has a lone surrogate (U+D800 to U+DFFF)."),
    ("name", "invisible"): N_("A name needs at least one visible character, not only invisible or combining ones."),
    ("name", "bidi"): N_("A name cannot contain a character that changes the direction of text (%(code)s)."),
    ("name", "separator"): N_("A name cannot contain a character that separates lines or paragraphs (%(code)s)."),
    ("name", "unseen"): N_(
        "A name cannot contain this character (%(code)s): private-use characters, non-characters and "
        "placeholders look different, or like nothing, to each reader."
    ),
    ("name", "tag"): N_(
        "A name cannot contain a tag character (%(code)s) that is not part of a flag emoji: "
        "tag characters can hide text that nobody sees."
    ),
    ("name", "unassigned"): N_(
        "A name cannot contain a code point that is not assigned to any character (%(code)s, as of Unicode "
        "%(version)s)."
    ),
    ("name", "format"): N_(
        "A name cannot contain an invisible format character (%(code)s): it would look the same as another name "
        "without it. Only U+200C and U+200D may appear, for emoji and the scripts that need them."
    ),
    ("name", "marks"): N_(
        "A name can have at most %(marks)s combining marks on one character (%(code)s has %(length)s)."
    ),
    ("message", "empty"): N_("Please enter a message."),
    ("message", "too_long"): N_("A message can be at most %(max)s characters (this one has %(length)s)."),
    ("message", "control"): N_("A message cannot contain control characters."),
    ("message", "surrogate"): N_("A message must be Unicode text: it has a lone surrogate (U+D800 to U+DFFF)."),
    ("message", "invisible"): N_(
        "A message needs at least one visible character, not only invisible or combining ones."
    ),
    ("message", "bidi"): N_("A message cannot contain a character that changes the direction of text (%(code)s)."),
    ("message", "separator"): N_(
        "A message cannot contain a character that separates lines or paragraphs (%(code)s): "
        "use an ordinary line break."
    ),
    ("message", "unseen"): N_(
        "A message cannot contain this character (%(code)s): private-use characters, non-characters and "
        "placeholders look different, or like nothing, to each reader."
    ),
    ("message", "tag"): N_(
        "A message cannot contain a tag character (%(code)s) that is not part of a flag emoji: "
        "tag characters can hide text that nobody sees."
    ),
    ("message", "unassigned"): N_(
        "A message cannot contain a code point that is not assigned to any character (%(code)s, as of Unicode "
        "%(version)s)."
    ),
    ("message", "marks"): N_(
        "A message can have at most %(marks)s combining marks on one character (%(code)s has %(length)s)."
    ),
}

# Vietnamese puts two marks on a letter (ệ: e, U+0323, U+0302), Thai a vowel and a tone mark, Devanagari a
# nukta, a vowel sign and a nasal sign; "zalgo" stacks dozens, and they spill over the entries around it.
# (Biblical Hebrew with every cantillation mark can need five: rare enough for a guestbook.)
MAX_MARKS_ON_ONE_CHARACTER = 4


class InvalidText(TranslatableProblem):
    """What is wrong with one field: its sentence (a catalogue message) and the values it names."""

    def __init__(self, field: str, problem: str, *, max_length: int, length: int = 0, char: str = "") -> None:
        code = f"U+{ord(char):04X}" if char else ""
        super().__init__(
            SENTENCES[field, problem],
            max=max_length,
            length=length,
            code=code,
            marks=MAX_MARKS_ON_ONE_CHARACTER,
            version=unicodedata.unidata_version,
        )
        self.field, self.problem, self.max_length, self.length = field, problem, max_length, length


# Letters that show as nothing: a name made only of them would look empty on the page.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode's Bidi_Control characters: an override such as U+202E shows the text after it backwards
# ("evil.exe" as "exe.live"), up to the end of its paragraph on the page, whatever follows the name.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# U+2028 and U+2029 break a line where the page shows none (a name is one line; a message uses "\n").
SEPARATORS = frozenset("\u2028\u2029")
# Interlinear annotation marks and the object replacement character stand for something that is not in the text.
PLACEHOLDERS = frozenset("\ufff9\ufffa\ufffb\ufffc")
# Tag characters (U+E0000 to U+E007F) spell ASCII that nobody sees ("Bob" can carry a hidden "ADM"). Their one
# use in text is a flag: U+1F3F4, a subdivision code of 3 to 7 lowercase letters and digits, U+E007F (UTS #51
# and CLDR; "gbeng" is England's flag).
FLAG_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{3,7}\U000e007f")
# Unicode keeps the unassigned code points of these ranges for pictographs (Extended_Pictographic, UAX #29), and
# phones offer new emoji before Python knows them: Python 3.11 knows Unicode 14.0, not U+1FA77 (pink heart).
FUTURE_EMOJI = ((0x1F000, 0x1FAFF), (0x1FC00, 0x1FFFD))
# ZWNJ and ZWJ keep apart or join what is around them: Persian words, Indic conjuncts, emoji (👩‍💻).
JOINERS = frozenset("\u200c\u200d")


def is_invisible(char: str) -> bool:
    """Whether a character shows as nothing: white space, a format character (zero-width space...), a blank letter."""
    return char.isspace() or unicodedata.category(char) == "Cf" or char in INVISIBLE_LETTERS


def is_combining(char: str) -> bool:
    """Whether a character is a mark that belongs on the one before it (U+0301, U+034F...): alone it shows
    as nothing, or as a stray accent."""
    return unicodedata.category(char).startswith("M")


def is_noncharacter(char: str) -> bool:
    """Whether Unicode keeps a code point out of text for good: U+FDD0 to U+FDEF and the last two of each plane."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def is_unseen(char: str) -> bool:
    """Whether a character shows differently, or as nothing, from reader to reader: private use, a non-character,
    a placeholder."""
    return unicodedata.category(char) == "Co" or is_noncharacter(char) or char in PLACEHOLDERS


def is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def is_tag(char: str) -> bool:
    return 0xE0000 <= ord(char) <= 0xE007F


def is_unassigned(char: str) -> bool:
    """Whether a code point is no character yet, as far as this Python's Unicode knows (emoji to come aside)."""
    code = ord(char)
    future_emoji = any(first <= code <= last for first, last in FUTURE_EMOJI)
    return unicodedata.category(char) == "Cn" and not future_emoji


def is_hidden_format(char: str) -> bool:
    """Whether a character is an invisible format character other than a joiner: U+200B, U+00AD, U+2060, U+FEFF..."""
    return unicodedata.category(char) == "Cf" and char not in JOINERS


Rule = tuple[str, Callable[[str], bool]]
REFUSED_CHARACTERS: list[Rule] = [
    ("control", is_control),
    ("bidi", BIDI_CONTROLS.__contains__),
    ("separator", SEPARATORS.__contains__),
    ("unseen", is_unseen),
    ("tag", is_tag),
    ("unassigned", is_unassigned),
]
# A name identifies its writer: "ad\u200bmin" must not pass for "admin". A message names nobody, and text has
# real uses for the other format characters: a zero-width space marks where words break in Thai, Khmer or
# Burmese, which put no spaces between words; a soft hyphen or a word joiner guide line breaks in long words.
REFUSED_IN_NAMES: list[Rule] = [*REFUSED_CHARACTERS, ("format", is_hidden_format)]


def first_refused(text: str, *, allow_newlines: bool, allow_format_characters: bool) -> tuple[str, str] | None:
    """Given trimmed text, return the first rule it breaks and the character that breaks it, if any."""
    checked = FLAG_TAG_SEQUENCE.sub("\U0001f3f4", text)  # a flag's own tags are the flag
    checked = checked.replace("\n", "") if allow_newlines else checked
    for problem, breaks in REFUSED_CHARACTERS if allow_format_characters else REFUSED_IN_NAMES:
        for char in checked:
            if breaks(char):
                return problem, char
    return None


def overloaded_character(text: str) -> tuple[str, int] | None:
    """Given text, return the first character that carries more than MAX_MARKS_ON_ONE_CHARACTER combining marks
    (the first mark itself when they open the text), and how many it carries. A joiner between marks does not
    end them: what follows it is still drawn on the same character."""
    base, marks = "", 0
    for char in text:
        if is_combining(char):
            base, marks = base or char, marks + 1
        elif char not in JOINERS:
            if marks > MAX_MARKS_ON_ONE_CHARACTER:
                return base, marks
            base, marks = char, 0
    return (base, marks) if marks > MAX_MARKS_ON_ONE_CHARACTER else None


def clean_text(value: str, *, field: str, max_length: int, allow_newlines: bool, allow_format_characters: bool) -> str:
    """Given raw user text, return it trimmed; raise InvalidText when it is not acceptable."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(unicodedata.category(char) == "Cs" for char in text):
        # JSON can carry "\ud800", which no database can store as UTF-8.
        raise InvalidText(field, "surrogate", max_length=max_length)
    if all(is_invisible(char) for char in text):
        raise InvalidText(field, "empty", max_length=max_length)
    if all(is_invisible(char) or is_combining(char) for char in text):
        raise InvalidText(field, "invisible", max_length=max_length)
    if len(text) > max_length:
        raise InvalidText(field, "too_long", max_length=max_length, length=len(text))
    if refused := first_refused(text, allow_newlines=allow_newlines, allow_format_characters=allow_format_characters):
        problem, char = refused
        raise InvalidText(field, problem, max_length=max_length, char=char)
    if overloaded := overloaded_character(text):
        base, marks = overloaded
        raise InvalidText(field, "marks", max_length=max_length, length=marks, char=base)
    return text


class EntryIn(BaseModel):
    """A new guestbook entry. Both fields are trimmed; the name is 1-40 characters on one line,
    the message 1-500 characters and may have line breaks; no other control characters, nothing that
    turns text around or breaks lines unseen, nothing that shows differently to each reader, no hidden
    tag text, no unassigned code point, at most four combining marks on a character, and something visible
    in each. A name has no invisible format character but the joiners ZWNJ and ZWJ."""

    model_config = ConfigDict(extra="forbid")
    name: str
    message: str

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        return clean_text(
            value, field="name", max_length=NAME_MAX_LENGTH, allow_newlines=False, allow_format_characters=False
        )

    @field_validator("message")
    @classmethod
    def _clean_message(cls, value: str) -> str:
        return clean_text(
            value, field="message", max_length=MESSAGE_MAX_LENGTH, allow_newlines=True, allow_format_characters=True
        )


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


def too_many_posts_detail(request: Request, seconds: int) -> str:
    message = N_("Too many guestbook posts from your IP address in a short time. Try again in %(seconds)s s.")
    return translator(request)(message) % {"seconds": seconds}


async def api_post_allowed(request: Request, limiter: PostLimiterDep) -> None:
    """429 with Retry-After when this address has posted too often (checked before the body is read)."""
    if seconds := limiter.wait_seconds(visitor_of(request.scope)):
        raise HTTPException(429, too_many_posts_detail(request, seconds), headers={"Retry-After": str(seconds)})


api_router = APIRouter(prefix="/api/guestbook", tags=["guestbook"])
POST_RESPONSES: dict[int | str, dict[str, object]] = {
    **DATABASE_UNAVAILABLE_RESPONSE,
    408: {"description": "The body did not arrive in time: the connection is closed"},
    413: {"description": "The body is too large"},
    429: {"description": "Too many posts from this address: wait the seconds Retry-After gives"},
}


@api_router.post(
    "", status_code=status.HTTP_201_CREATED, responses=POST_RESPONSES, dependencies=[Depends(api_post_allowed)]
)
async def create_entry(entry: EntryIn, database: DatabaseDep) -> EntryOut:
    """Store a guestbook entry and return it with its id and time."""
    return EntryOut.of(await database.add_entry(entry.name, entry.message))


@api_router.get("", responses=DATABASE_UNAVAILABLE_RESPONSE)
async def list_entries(
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many entries, newest first.")] = DEFAULT_LIMIT,
) -> EntryList:
    """The newest guestbook entries first."""
    return EntryList(entries=[EntryOut.of(entry) for entry in await database.recent_entries(limit)])


page_router = APIRouter(include_in_schema=False)


async def read_entry_form(request: Request) -> dict[str, str]:
    """The form's two fields exactly as typed. Async: the body is read on the event loop."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        detail = translator(request)(N_("Send the form as %(type)s.")) % {"type": FORM_CONTENT_TYPE}
        raise HTTPException(status_code=415, detail=detail)
    try:
        body = await request.body()
    except ClientDisconnect:  # gone before the form arrived: nobody to answer, and nothing went wrong here
        detail = translator(request)(N_("The form did not arrive: the connection closed."))
        raise HTTPException(status_code=400, detail=detail) from None
    if (count := form_field_count(body)) > MAX_FORM_FIELDS:
        detail = translator(request)(N_("The form has too many fields (%(count)s): at most %(max)s are allowed."))
        raise HTTPException(status_code=400, detail=detail % {"count": count, "max": MAX_FORM_FIELDS})
    try:
        # errors="strict": a %-escape that is not UTF-8 (%ff) is refused, not turned into U+FFFD.
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        detail = translator(request)(N_("The form could not be read: it is not valid UTF-8."))
        raise HTTPException(status_code=400, detail=detail) from None
    return {key: fields.get(key, [""])[0] for key in ("name", "message")}


def form_field_count(body: bytes) -> int:
    """Given a form body, return how many fields it has, as `parse_qs` counts them (one more than its `&`s)."""
    return body.count(b"&") + 1 if body else 0


EntryForm = Annotated[dict[str, str], Depends(read_entry_form)]


def invalid_fields(error: ValidationError) -> list[InvalidText]:
    """Given EntryIn's validation error, return what is wrong with each field, in field order."""
    problems = [detail.get("ctx", {}).get("error") for detail in error.errors()]
    invalid = [problem for problem in problems if isinstance(problem, InvalidText)]
    if len(invalid) != len(problems):
        raise error  # not a rule of EntryIn's own: a bug, not the visitor's mistake
    return invalid


async def recent_entries(database: Storage, *, known_down: bool = False) -> list[Entry] | None:
    """The newest entries, or None when the database is down. `known_down`: it failed moments ago in
    this request (counting the view), and a database that is down is not waited for twice."""
    if known_down:
        return None
    try:
        return await database.recent_entries(DEFAULT_LIMIT)
    except DatabaseUnavailable:
        return None


def render_page(
    request: Request,
    entries: list[Entry] | None,
    views: PageViews,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: list[InvalidText] | None = None,
    unavailable: bool = False,
    database_ms: float | None = None,
    refusal: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "guestbook.html",
        {
            "entries": entries,
            "views": views,
            "form": form or {"name": "", "message": ""},
            "errors": errors or [],
            "unavailable": unavailable or entries is None,
            "name_max": NAME_MAX_LENGTH,
            "message_max": MESSAGE_MAX_LENGTH,
            "refusal": refusal,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
        database_ms=database_ms,
    )


@page_router.get("/guestbook")
async def guestbook_page(request: Request, views: CountedView, database: DatabaseDep) -> Response:
    started = time.perf_counter()
    entries = await recent_entries(database, known_down=views.unavailable)
    reading_ms = (time.perf_counter() - started) * 1000
    return render_page(request, entries, views, database_ms=views.database_ms + reading_ms)


@page_router.post("/guestbook")
async def post_guestbook_form(
    request: Request, form: EntryForm, database: DatabaseDep, limiter: PostLimiterDep
) -> Response:
    """Post/Redirect/Get: a stored entry redirects to the page; a refused one shows the form again."""
    if origin := cross_site_origin(request.headers):
        return await refuse_post(request, database, form, 403, {"reason": "cross_site", "origin": origin})
    if seconds := limiter.wait_seconds(visitor_of(request.scope)):
        refusal = {"reason": "too_many", "seconds": seconds}
        return await refuse_post(request, database, form, 429, refusal, {"Retry-After": str(seconds)})
    try:
        entry = EntryIn.model_validate(form)
    except ValidationError as error:
        views = await count_page_view(request, database)  # the form shown again is a view of the page
        entries = await recent_entries(database, known_down=views.unavailable)
        return render_page(request, entries, views, status_code=422, form=form, errors=invalid_fields(error))
    try:
        await database.add_entry(entry.name, entry.message)
    except DatabaseUnavailable as error:
        # Nothing was stored; reading may still work (a write lock held elsewhere, say).
        entries = await recent_entries(database)
        views = PageViews(None, 0.0, error.cause)  # the notice says why
        return render_page(request, entries, views, status_code=503, form=form, unavailable=True)
    return RedirectResponse(path_for(request, "guestbook_page"), status_code=status.HTTP_303_SEE_OTHER)


async def refuse_post(
    request: Request,
    database: Storage,
    form: dict[str, str],
    status_code: int,
    refusal: dict[str, object],
    headers: dict[str, str] | None = None,
) -> Response:
    """The page again, with the form as it was sent and a notice of why nothing was stored."""
    entries = await recent_entries(database)
    views = PageViews(None, 0.0)  # not a view of the page: nothing is counted for a refused post
    return render_page(request, entries, views, status_code=status_code, form=form, refusal=refusal, headers=headers)
