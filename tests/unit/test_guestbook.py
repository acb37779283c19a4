"""The guestbook and page views: dynamic content from the database, and bad input."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.conftest import postgres_url_or_skip, with_postgres_options
from tests.unit.conftest import MakeClient
from webapp.settings import Settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def db_client(make_client: MakeClient, database_url: str) -> TestClient:
    """A client whose app uses SQLite or PostgreSQL (both, in turn)."""
    return make_client(database_url=database_url)


def _entries(client: TestClient, limit: int | None = None) -> list[dict]:
    response = client.get("/api/guestbook", params={"limit": limit} if limit else None)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_post_and_list_entries_newest_first(db_client: TestClient) -> None:
    for number in range(3):
        response = db_client.post("/api/guestbook", json={"name": f"학생 {number}", "message": f"안녕 {number}"})
        assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "학생 2"
    assert isinstance(created["id"], int)
    assert [entry["name"] for entry in _entries(db_client)] == ["학생 2", "학생 1", "학생 0"]


def test_fields_are_trimmed_and_messages_keep_line_breaks(db_client: TestClient) -> None:
    response = db_client.post("/api/guestbook", json={"name": "  민지 ", "message": " 첫 줄\r\n둘째 줄  "})
    assert response.status_code == 201, response.text
    assert (response.json()["name"], response.json()["message"]) == ("민지", "첫 줄\n둘째 줄")


def test_limit_defaults_to_50_and_allows_up_to_1000(db_client: TestClient) -> None:
    for number in range(55):
        db_client.post("/api/guestbook", json={"name": "n", "message": str(number)})
    assert len(_entries(db_client)) == 50
    assert len(_entries(db_client, 1000)) == 55
    assert [entry["message"] for entry in _entries(db_client, 2)] == ["54", "53"]
    for bad in (0, 1001, -5):
        assert db_client.get("/api/guestbook", params={"limit": bad}).status_code == 422


UNICODE_VERSION = unicodedata.unidata_version
KOREAN_FIELD = {"name": "이름에는", "message": "메시지에는"}
BLACK_FLAG, CANCEL_TAG = "\U0001f3f4", "\U000e007f"


def tags(ascii_text: str) -> str:
    """Given ASCII text, return it in tag characters (U+E0000 + its code): invisible, unless in a flag."""
    return "".join(chr(0xE0000 + ord(char)) for char in ascii_text)


BAD_ENTRIES = [
    ({"name": "", "message": "hi"}, "Please enter your name.", "이름을 입력해 주세요."),
    ({"name": "   ", "message": "hi"}, "Please enter your name.", "이름을 입력해 주세요."),
    (
        {"name": "a" * 41, "message": "hi"},
        "A name can be at most 40 characters (this one has 41).",
        "이름은 40자까지 입력할 수 있습니다(현재 41자).",
    ),
    (
        {"name": "a", "message": "b" * 501},
        "A message can be at most 500 characters (this one has 501).",
        "메시지는 500자까지 입력할 수 있습니다(현재 501자).",
    ),
    (
        {"name": "a\nb", "message": "hi"},
        "A name cannot contain control characters.",
        "이름에는 제어 문자를 입력할 수 없습니다.",
    ),
    (
        {"name": "a", "message": "bell\x07"},
        "A message cannot contain control characters.",
        "메시지에는 제어 문자를 입력할 수 없습니다.",
    ),
    (
        {"name": "a", "message": "nul\x00"},
        "A message cannot contain control characters.",
        "메시지에는 제어 문자를 입력할 수 없습니다.",
    ),
    *[
        (
            {"name": name, "message": "hi"},
            "A name needs at least one visible character, not only invisible or combining ones.",
            "이름에는 눈에 보이는 문자가 하나 이상 있어야 합니다. 보이지 않는 문자나 결합 문자만 있으면 안 됩니다.",
        )
        # The combining grapheme joiner (shows as nothing), an acute accent alone, a zero-width space with one.
        for name in ("\u034f", "\u0301", "\u200b\u0301")
    ],
    (
        {"name": "a", "message": "\u3164\u0301"},  # a Hangul filler and an accent
        "A message needs at least one visible character, not only invisible or combining ones.",
        "메시지에는 눈에 보이는 문자가 하나 이상 있어야 합니다. 보이지 않는 문자나 결합 문자만 있으면 안 됩니다.",
    ),
    *[
        (
            {"name": name, "message": "hi"},
            f"A name cannot contain this character ({code}): private-use characters, non-characters and "
            "placeholders look different, or like nothing, to each reader.",
            f"이름에는 이 문자({code})를 입력할 수 없습니다. 사용자 정의 문자, 비문자(noncharacter), 자리 표시 문자는 "
            "읽는 사람마다 다르게 보이거나 아예 보이지 않습니다.",
        )
        for name, code in [("\ufffc", "U+FFFC"), ("\uffff", "U+FFFF"), ("민\ue000지", "U+E000"), ("a\ufdd0", "U+FDD0")]
    ],
    (
        {"name": "a", "message": "plane 16: \U0010fffd"},
        "A message cannot contain this character (U+10FFFD): private-use characters, non-characters and "
        "placeholders look different, or like nothing, to each reader.",
        "메시지에는 이 문자(U+10FFFD)를 입력할 수 없습니다. 사용자 정의 문자, 비문자(noncharacter), 자리 표시 문자는 "
        "읽는 사람마다 다르게 보이거나 아예 보이지 않습니다.",
    ),
    (
        {"name": "abc\u202egpj.exe", "message": "hi"},
        "A name cannot contain a character that changes the direction of text (U+202E).",
        "이름에는 텍스트 방향을 바꾸는 문자(U+202E)를 입력할 수 없습니다.",
    ),
    (
        {"name": "a", "message": "\u2067hi"},
        "A message cannot contain a character that changes the direction of text (U+2067).",
        "메시지에는 텍스트 방향을 바꾸는 문자(U+2067)를 입력할 수 없습니다.",
    ),
    (
        {"name": "a\u2028b", "message": "hi"},
        "A name cannot contain a character that separates lines or paragraphs (U+2028).",
        "이름에는 줄이나 문단을 나누는 문자(U+2028)를 입력할 수 없습니다.",
    ),
    (
        {"name": "a", "message": "first\u2029second"},
        "A message cannot contain a character that separates lines or paragraphs (U+2029): use an ordinary line break.",
        "메시지에는 줄이나 문단을 나누는 문자(U+2029)를 입력할 수 없습니다. 일반 줄 바꿈을 사용해 주세요.",
    ),
    *[
        (
            entry,
            f"A {field} cannot contain a code point that is not assigned to any character (U+0378, as of Unicode "
            f"{UNICODE_VERSION}).",
            f"{KOREAN_FIELD[field]} 문자가 배정되지 않은 코드 포인트(U+0378, 유니코드 {UNICODE_VERSION} 기준)를 "
            "입력할 수 없습니다.",
        )
        for field, entry in [
            ("name", {"name": "\u0378\u0379", "message": "hi"}),
            ("message", {"name": "a", "message": "hi \u0378"}),
        ]
    ],
    *[
        (
            entry,
            f"A {field} cannot contain a tag character ({code}) that is not part of a flag emoji: "
            "tag characters can hide text that nobody sees.",
            f"{KOREAN_FIELD[field]} 깃발 이모지의 일부가 아닌 태그 문자({code})를 입력할 수 없습니다. "
            "태그 문자는 아무에게도 보이지 않는 텍스트를 숨길 수 있습니다.",
        )
        for field, entry, code in [
            ("name", {"name": "Bob" + tags("ADM"), "message": "hi"}, "U+E0041"),  # hidden text after a name
            ("name", {"name": BLACK_FLAG + tags("gbeng"), "message": "hi"}, "U+E0067"),  # a flag without its end
            ("name", {"name": BLACK_FLAG + tags("GBENG") + CANCEL_TAG, "message": "hi"}, "U+E0047"),  # not a code
            ("message", {"name": "a", "message": "hi" + tags("ignore this") + CANCEL_TAG}, "U+E0069"),
        ]
    ],
    *[
        (
            {"name": name, "message": "hi"},
            f"A name cannot contain an invisible format character ({code}): it would look the same as another name "
            "without it. Only U+200C and U+200D may appear, for emoji and the scripts that need them.",
            f"이름에는 보이지 않는 서식 문자({code})를 입력할 수 없습니다. 이 문자가 없는 다른 이름과 똑같아 보이기 "
            "때문입니다. 이모지와 일부 문자 체계에 필요한 U+200C, U+200D만 입력할 수 있습니다.",
        )
        # A zero-width space, a soft hyphen, a word joiner, a byte order mark, an invisible times.
        for name, code in [
            ("ad\u200bmin", "U+200B"),
            ("ad\u00admin", "U+00AD"),
            ("ad\u2060min", "U+2060"),
            ("\ufeffadmin", "U+FEFF"),
            ("a\u2062b", "U+2062"),
        ]
    ],
    *[
        (
            entry,
            f"A {field} can have at most 4 combining marks on one character ({code} has {count}).",
            f"{KOREAN_FIELD[field].replace('에는', '에서는')} 한 문자에 결합 문자를 4개까지 붙일 수 있습니다"
            f"(현재 {code} 문자에 {count}개).",
        )
        for field, entry, code, count in [
            ("name", {"name": "a" + "\u0336" * 39, "message": "hi"}, "U+0061", 39),  # "zalgo"
            ("message", {"name": "a", "message": "zalgo e" + "\u0301" * 5}, "U+0065", 5),
            # A joiner between marks does not start a new character: the marks after it stack on the same one.
            ("message", {"name": "a", "message": "x" + "\u0301" * 3 + "\u200d" + "\u0301" * 3}, "U+0078", 6),
        ]
    ],
]


@pytest.mark.parametrize(("entry", "english", "korean"), BAD_ENTRIES)
def test_bad_entries_get_422_with_a_clear_detail_and_nothing_is_stored(
    db_client: TestClient, entry: dict, english: str, korean: str
) -> None:
    """The API says what the page says, in the language the page would choose; `type` stays for programs."""
    response = db_client.post("/api/guestbook", json=entry, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == english
    assert response.json()["detail"][0]["type"] == "value_error"
    in_korean = db_client.post("/api/guestbook", json=entry, params={"lang": "ko"})
    assert in_korean.json()["detail"][0]["msg"] == korean
    assert _entries(db_client) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("e\u0301", "an accent on a letter"),
        ("👩\u200d💻", "a zero-width joiner inside an emoji"),
        ("민지", "첫 줄\n둘째 줄"),
        ("Ana", "\u0301 an accent alone, but with words"),
        ("🇰🇷", "a flag of two regional indicators"),
        (BLACK_FLAG + tags("gbeng") + CANCEL_TAG, "England's flag: a black flag, tags, a cancel tag"),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "Persian (mi-khaham) keeps two letters apart with a ZWNJ"),
        ("क्\u200dष", "Devanagari: a zero-width joiner after a virama"),
        ("Vie\u0323\u0302t", "Vietnamese with two marks on one letter; at the limit: a" + "\u0301" * 4),
        ("\U0001fa77", "an emoji newer than Python's Unicode (pink heart, Unicode 15)"),
        ("ᄒᆞᆫ글", "old Hangul jamo are letters, not marks"),
        ("Basmala", "\ufdfd: a very wide ligature stays allowed"),
        ("Somchai", "ภาษา\u200bไทย: a zero-width space marks a word break in Thai; a soft hyp\u00adhen"),
    ],
)
def test_marks_and_joiners_with_visible_text_are_accepted(db_client: TestClient, name: str, message: str) -> None:
    response = db_client.post("/api/guestbook", json={"name": name, "message": message})
    assert response.status_code == 201, response.text
    assert (response.json()["name"], response.json()["message"]) == (name, message)


def test_forty_characters_after_trimming_are_accepted(db_client: TestClient) -> None:
    response = db_client.post("/api/guestbook", json={"name": "  " + "가" * 40 + "  ", "message": "m" * 500})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a"}',
        b'{"name": "a", "message": "b", "admin": true}',
        b'{"name": 5, "message": "b"}',
        b"not json",
        b"[]",
    ],
)
def test_malformed_json_gets_422(db_client: TestClient, body: bytes) -> None:
    response = db_client.post("/api/guestbook", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert _entries(db_client) == []


@pytest.mark.parametrize(
    ("body", "english", "korean"),
    [
        (
            b'{"name": "\xff\xfe", "message": "b"}',
            "The body could not be read as JSON: it is not valid UTF-8.",
            "본문이 올바른 UTF-8이 아니어서 JSON으로 읽을 수 없습니다.",
        ),
        (
            b'{"name": "a", "message": ' + b"7" * 5000 + b"}",
            "The body could not be read as JSON: a number in it has too many digits.",
            "본문에 자릿수가 너무 많은 숫자가 있어서 JSON으로 읽을 수 없습니다.",
        ),
        (
            b"[" * 15_000,  # deeper than every Python's C recursion limit, and within the 16 KiB body limit
            "The body could not be read as JSON: it is nested too deeply.",
            "본문의 중첩이 너무 깊어서 JSON으로 읽을 수 없습니다.",
        ),
    ],
)
def test_json_that_cannot_be_read_gets_400_with_a_sentence_in_the_visitors_language(
    db_client: TestClient, body: bytes, english: str, korean: str
) -> None:
    """FastAPI's own "There was an error parsing the body" said as the site says everything else."""
    json_type = {"Content-Type": "application/json"}
    in_english = db_client.post("/api/guestbook", content=body, headers={**json_type, "Accept-Language": "en"})
    assert in_english.status_code == 400
    assert in_english.json() == {"detail": english}
    in_korean = db_client.post("/api/guestbook", content=body, headers=json_type, params={"lang": "ko"})
    assert in_korean.status_code == 400
    assert in_korean.json() == {"detail": korean}
    assert _entries(db_client) == []


def test_wrong_content_type_on_the_json_api_gets_a_4xx(db_client: TestClient) -> None:
    response = db_client.post("/api/guestbook", content=b"name=a&message=b", headers=FORM)
    assert 400 <= response.status_code < 500
    assert _entries(db_client) == []


def test_form_post_redirects_and_the_entry_shows(db_client: TestClient) -> None:
    response = db_client.post(
        "/guestbook", content="name=%ED%83%9C%ED%98%84&message=hello+there", headers=FORM, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("/guestbook")
    page = db_client.get("/guestbook").text
    assert '<strong class="entry-name">태현</strong>' in page
    assert "hello there" in page


def test_bad_form_comes_back_with_a_message_and_what_was_typed(db_client: TestClient) -> None:
    response = db_client.post("/guestbook", content="name=&message=%3Cb%3Ekept%3C%2Fb%3E", headers=FORM)
    assert response.status_code == 422
    assert "이름을 입력해 주세요." in response.text
    assert "&lt;b&gt;kept&lt;/b&gt;</textarea>" in response.text
    assert _entries(db_client) == []


def _form_alert_items(page: str) -> list[str]:
    """The sentences in the form's alert box, one per list item."""
    alert = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', page, re.DOTALL)
    assert alert, "the form came back without its alert"
    return [item.strip() for item in re.findall(r"<li>(.*?)</li>", alert.group(1), re.DOTALL)]


@pytest.mark.parametrize(("entry", "english", "korean"), BAD_ENTRIES)
def test_the_form_is_refused_by_the_same_rules_as_the_json_api(
    db_client: TestClient, entry: dict[str, str], english: str, korean: str
) -> None:
    response = db_client.post("/guestbook", content=urlencode(entry), headers=FORM)
    assert response.status_code == 422
    assert _form_alert_items(response.text) == [korean]
    assert _entries(db_client) == []


def test_an_empty_form_asks_for_each_field_in_its_own_sentence(db_client: TestClient) -> None:
    response = db_client.post("/guestbook?lang=ko", content="name=&message=", headers=FORM)
    assert response.status_code == 422
    assert _form_alert_items(response.text) == ["이름을 입력해 주세요.", "메시지를 입력해 주세요."]


def test_the_english_form_asks_for_each_field_in_its_own_sentence(db_client: TestClient) -> None:
    response = db_client.post("/guestbook?lang=en", content=urlencode({"name": "a" * 41, "message": ""}), headers=FORM)
    assert response.status_code == 422
    assert _form_alert_items(response.text) == [
        "A name can be at most 40 characters (this one has 41).",
        "Please enter a message.",
    ]


def test_form_with_invalid_utf8_or_wrong_type_is_refused(db_client: TestClient) -> None:
    assert db_client.post("/guestbook", content=b"name=%ff&message=\xff", headers=FORM).status_code == 400
    escaped = db_client.post("/guestbook?lang=en", content=b"name=%ff&message=b", headers=FORM)
    assert (escaped.status_code, escaped.json()) == (
        400,
        {"detail": "The form could not be read: it is not valid UTF-8."},
    )
    refused = db_client.post("/guestbook", json={"name": "a", "message": "b"})
    assert refused.status_code == 415
    assert refused.json() == {"detail": "폼을 application/x-www-form-urlencoded 형식으로 보내 주세요."}
    assert _entries(db_client) == []


def test_a_form_with_too_many_fields_is_told_so_and_how_many_are_allowed(db_client: TestClient) -> None:
    eleven = "name=a&message=b" + "".join(f"&extra{number}=x" for number in range(9))
    response = db_client.post("/guestbook?lang=en", content=eleven, headers=FORM)
    assert response.status_code == 400
    assert response.json() == {"detail": "The form has too many fields (11): at most 10 are allowed."}
    korean = db_client.post("/guestbook?lang=ko", content=eleven, headers=FORM)
    assert korean.json() == {"detail": "폼의 필드가 너무 많습니다(11개). 필드는 10개까지 보낼 수 있습니다."}
    assert _entries(db_client) == []
    ten = eleven.rsplit("&", 1)[0]
    assert db_client.post("/guestbook", content=ten, headers=FORM, follow_redirects=False).status_code == 303


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_stored_markup_is_shown_as_text(db_client: TestClient, text: str) -> None:
    db_client.post("/api/guestbook", json={"name": text[:40], "message": text})
    page = db_client.get("/guestbook").text
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_oversized_bodies_get_413_and_nothing_is_stored(db_client: TestClient) -> None:
    big = "x" * 20_000
    response = db_client.post("/api/guestbook", json={"name": "a", "message": big})
    assert response.status_code == 413
    assert response.json() == {"detail": "요청 본문이 너무 큽니다. 본문은 16384바이트까지 보낼 수 있습니다."}
    english = db_client.post("/api/guestbook?lang=en", json={"name": "a", "message": big})
    assert english.json() == {"detail": "The request body is too large: at most 16384 bytes."}
    assert db_client.post("/guestbook", content=f"name=a&message={big}", headers=FORM).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts the bytes as they come
        yield b'{"name": "a", "message": "'
        for _ in range(40):
            yield b"y" * 1000
        yield b'"}'

    chunked = db_client.post("/api/guestbook", content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert _entries(db_client) == []


def test_dynamic_page_shows_stored_views_next_to_the_process_counter(
    make_client: MakeClient, database_url: str
) -> None:
    first = make_client(database_url=database_url)
    first.get("/dynamic")
    page = first.get("/dynamic").text
    assert 'id="counter" data-value="2">' in page
    assert 'id="stored-views" data-value="2">' in page
    # A restart: a new app, whose process counter starts again, while the database total goes on.
    second = make_client(database_url=database_url)
    page = second.get("/dynamic").text
    views = second.get("/api/views").json()["views"]
    assert 'id="counter" data-value="1">' in page
    assert 'id="stored-views" data-value="3">' in page
    assert views["/dynamic"] == 3


def test_each_dynamic_page_is_counted_by_its_route(db_client: TestClient) -> None:
    for path in ("/compare", "/compare", "/log", "/bench", "/guestbook", "/static/index.html", "/ping"):
        db_client.get(path)
    assert db_client.get("/api/views").json()["views"] == {"/bench": 1, "/compare": 2, "/guestbook": 1, "/log": 1}


UNREACHABLE_DATABASE = "postgresql+psycopg://nobody:wrong@127.0.0.1:1/none"


@pytest.fixture
def no_database(make_client: MakeClient) -> TestClient:
    """An app whose database cannot be reached at all."""
    return make_client(database_url=UNREACHABLE_DATABASE)


def test_without_a_database_static_files_and_ping_still_work(no_database: TestClient, site_settings: Settings) -> None:
    assert no_database.get("/static/index.html").content == (site_settings.static_dir / "index.html").read_bytes()
    assert no_database.get("/ping").json() == {"message": "pong"}


@pytest.mark.parametrize("path", ["/dynamic", "/guestbook", "/compare", "/log", "/bench"])
def test_without_a_database_pages_render_with_a_notice(no_database: TestClient, path: str) -> None:
    response = no_database.get(path)
    assert response.status_code == 200
    assert "데이터베이스에 연결할 수 없습니다(database unavailable)" in response.text


def test_without_a_database_the_database_endpoints_answer_503(no_database: TestClient) -> None:
    detail = "The database is unavailable right now, so nothing was read or stored. Try again shortly."
    english = {"lang": "en"}
    for response in (
        no_database.get("/api/views", params=english),
        no_database.get("/api/guestbook", params=english),
        no_database.post("/api/guestbook", params=english, json={"name": "a", "message": "b"}),
    ):
        assert response.status_code == 503
        assert response.json() == {"detail": detail}
    form = no_database.post("/guestbook", content="name=a&message=b", headers=FORM)
    assert form.status_code == 503
    assert "database unavailable" in form.text
    assert 'value="a"' in form.text  # what was typed is not lost


def test_times_stay_right_when_the_postgresql_session_is_in_seoul(make_client: MakeClient) -> None:
    """A server in Korea is likely set to Asia/Seoul; the stored moment and the time shown must not move."""
    url = with_postgres_options(postgres_url_or_skip(), "-c timezone=Asia/Seoul")
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW timezone")).scalar() == "Asia/Seoul"
    engine.dispose()
    client = make_client(database_url=url)

    before = datetime.now(UTC)
    created = client.post("/api/guestbook", json={"name": "서울", "message": "지금 몇 시?"}).json()["created_at"]
    after = datetime.now(UTC)
    moment = datetime.fromisoformat(created)
    assert moment.utcoffset() == timedelta(0), created
    assert before <= moment <= after, (before, created, after)
    assert _entries(client)[0]["created_at"] == created

    page = client.get("/guestbook", params={"lang": "en"}).text
    shown = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    assert shown, "the entry shows no time"
    assert datetime.fromisoformat(shown.group(1)) == moment
    hour = moment.hour % 12 or 12
    assert re.search(rf"\b{hour}:{moment.minute:02d}\W{{1,2}}{moment:%p} UTC$", shown.group(2)), shown.group(2)
