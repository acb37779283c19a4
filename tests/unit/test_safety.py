"""Safe on a server, in process: odd JSON never answers 500, visitors' privacy, CSRF, post limits, HEAD, dot-files."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cachelint import STREAMS
from tests.support import examples, get_routes
from tests.unit.conftest import MakeClient
from webapp.main import create_app
from webapp.ratelimit import PostLimiter
from webapp.settings import DEFAULT_REQUEST_LOG_SIZE, Settings

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ME = ("127.0.0.1", 50000)
OWNER_URL = "http://127.0.0.1"  # the owner asks for a loopback host name (webapp/visitors.py)
SOMEONE_ELSE = ("127.0.0.2", 50001)

# Every value Python's JSON parser accepts, including what JSON itself has no room for:
# NaN, Infinity (and 1e999, which parses as infinity) and lone surrogates ("\ud800").
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)
GET_ENDPOINTS = ["/api/now", "/api/inspect", "/api/requests", "/api/views", "/api/guestbook", "/ping"]


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    folder = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(database_url=f"sqlite:///{folder / 'site.db'}", posts_per_minute=0)
    with TestClient(create_app(settings_)) as client:
        yield client


def _entry_count(client: TestClient) -> int:
    return len(client.get("/api/guestbook", params={"limit": 1000}).json()["entries"])


@given(value=JSON_VALUES)
@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
def test_any_json_body_gets_a_4xx_or_is_stored_never_a_500(fuzz_client: TestClient, value: object) -> None:
    for body in (value, {"name": value, "message": "hi"}, {"name": "hi", "message": value}):
        response = fuzz_client.post("/api/guestbook", content=json.dumps(body, allow_nan=True), headers=JSON)
        assert response.status_code in (201, 422), response.text
        detail = response.json()  # the answer itself is always valid JSON
        if response.status_code == 422:
            assert all(problem["msg"] for problem in detail["detail"])


@given(key=ANY_TEXT, value=ANY_TEXT | JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True)))
@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
def test_any_query_on_a_json_endpoint_gets_an_answer_never_a_500(fuzz_client: TestClient, key: str, value: str) -> None:
    encode = lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")  # noqa: E731
    for path in GET_ENDPOINTS:
        response = fuzz_client.get(f"{path}?{encode(key)}={encode(value)}&limit={encode(value)}")
        assert response.status_code < 500, (path, response.text)
        response.json()


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": NaN, "message": "hi"}',
        '{"name": "hi", "message": -Infinity}',
        '{"name": 1e999, "message": "hi"}',
        '{"name": "\\ud800", "message": "hi"}',
        '{"name": "hi", "message": "lone \\udfff"}',
        '{"\\ud800": 1, "name": "hi", "message": "hi"}',
    ],
)
def test_values_json_cannot_encode_get_422_with_a_detail_and_nothing_is_stored(
    make_client: MakeClient, database_url: str, raw: str
) -> None:
    client = make_client(database_url=database_url)  # SQLite and PostgreSQL
    response = client.post("/api/guestbook", content=raw, headers=JSON)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert problems and all({"loc", "msg", "type"} <= set(problem) for problem in problems)
    assert "input" not in problems[0]  # the value is never sent back
    assert _entry_count(client) == 0


def test_a_lone_surrogate_is_refused_with_a_sentence(client: TestClient) -> None:
    response = client.post("/api/guestbook", content='{"name": "a\\ud800", "message": "hi"}', headers=JSON)
    assert response.json()["detail"][0]["msg"] == "이름에는 짝이 없는 서로게이트(U+D800~U+DFFF)를 넣을 수 없습니다."


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200d\u2060", " \ufeff ", "\u3164\u3164", "\u2800"])
def test_a_name_of_invisible_characters_counts_as_empty(client: TestClient, name: str) -> None:
    response = client.post("/api/guestbook", json={"name": name, "message": "hi"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "이름을 입력해 주세요."
    form = client.post("/guestbook", data={"name": name, "message": "hi"})
    assert form.status_code == 422
    assert "이름을 입력해 주세요." in form.text


# Privacy: a visitor sees their own requests in full, others' without what identifies them.


def test_the_log_shows_my_requests_in_full_and_others_without_address_or_query(site_settings: Settings) -> None:
    app = create_app(site_settings)
    with TestClient(app, client=SOMEONE_ELSE) as other, TestClient(app, client=ME, base_url=OWNER_URL) as me:
        other.get("/dynamic?name=Jiwoo&email=jiwoo@example.com", headers={"User-Agent": "Jiwoo-Phone/1.0"})
        me.get("/ping?mine=yes")
        for page in (me.get("/log").text, me.get("/api/requests").text, me.get("/source/templates/dynamic.html").text):
            assert "Jiwoo" not in page and "jiwoo@" not in page and "127.0.0.2" not in page
        requests = me.get("/api/requests").json()["requests"]
        theirs = next(r for r in requests if r["path"] == "/dynamic")
        # No size either: the size of /dynamic tells how long their name and User-Agent are.
        assert (theirs["query"], theirs["client"], theirs["yours"], theirs["bytes"]) == ("", "", False, None)
        assert theirs["status"] == 200
        mine = next(r for r in requests if r["path"] == "/ping")
        assert (mine["query"], mine["client"], mine["yours"]) == ("mine=yes", "127.0.0.1:50000", True)
        assert "다른 방문자" in me.get("/log").text
        source = me.get("/source/templates/dynamic.html").text
        assert "다른 방문자의 요청으로 만들어졌으므로" in source
        # The visitor who made the page sees it all.
        own = other.get("/source/templates/dynamic.html").text
        assert "Jiwoo" in own and "Jiwoo-Phone/1.0" in own
        assert "jiwoo@example.com" in other.get("/api/requests").text


def test_the_operator_can_show_every_visitor_in_full(site_settings: Settings) -> None:
    app = create_app(Settings(**{**site_settings.__dict__, "show_all_visitors": True}))
    with TestClient(app, client=SOMEONE_ELSE) as other, TestClient(app, client=ME, base_url=OWNER_URL) as me:
        other.get("/dynamic?name=Jiwoo")
        assert "name=Jiwoo" in me.get("/log").text
        assert "Jiwoo" in me.get("/source/templates/dynamic.html").text


def test_stored_log_entries_are_bounded_however_long_the_request(client: TestClient) -> None:
    # Each URL is built once: the test client checks a URL character by character in Python (10 ms for these).
    ping_url = client.base_url.join("/ping?" + "q" * 65_000)
    static_url = client.base_url.join("/static/" + "p" * 65_000)
    for _ in range(DEFAULT_REQUEST_LOG_SIZE // 2):  # a full log of the longest requests, half of each kind
        client.get(ping_url)
        client.get(static_url)
    page = client.get("/log")
    assert page.status_code == 200
    assert len(page.content) < 1_000_000, len(page.content)  # it was 19.6 MB
    entries = client.get("/api/requests", params={"limit": 3}).json()["requests"]
    long_path = next(entry for entry in entries if entry["path"].startswith("/static/ppp"))
    assert len(long_path["path"]) == 201 and long_path["path"].endswith("…")


def test_ipv6_addresses_are_shown_in_brackets(site_settings: Settings) -> None:
    with TestClient(create_app(site_settings), client=("::1", 50000), base_url="http://[::1]") as client:
        page = client.get("/dynamic").text
        assert 'id="client">[::1]:50000<' in page
        assert client.get("/api/requests").json()["requests"][0]["client"] == "[::1]:50000"


def test_inspect_shows_which_secrets_came_but_not_their_values(client: TestClient) -> None:
    headers = {"Authorization": "Bearer s3cr3t-token", "Cookie": "lang=ko; session=abc123", "X-Proxy-Secret": "p"}
    shown = client.get("/api/inspect", headers=headers).json()["headers"]
    assert shown["authorization"] == "Bearer (hidden)"
    assert shown["cookie"] == "lang=(hidden); session=(hidden)"
    assert shown["x-proxy-secret"] == "(hidden)"
    assert "s3cr3t" not in json.dumps(shown) and "abc123" not in json.dumps(shown)


# CSRF: the HTML form refuses posts from pages on other sites; the JSON API is unchanged.


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.testserver"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://[::1"},  # not a URL at all
    ],
)
def test_the_form_refuses_a_post_from_another_site(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/guestbook", data={"name": "mallory", "message": "hi"}, headers=headers)
    assert response.status_code == 403
    assert 'id="refusal"' in response.text and "CSRF" in response.text
    assert 'value="mallory"' in response.text  # what was typed is kept
    assert _entry_count(client) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {"Origin": "http://testserver"}],
)
def test_the_form_takes_a_post_from_its_own_page(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/guestbook", data={"name": "kim", "message": "hi"}, headers=headers, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/guestbook"  # a path: never a host from the request
    assert _entry_count(client) == 1


def test_the_json_api_is_not_a_form_and_keeps_working(client: TestClient) -> None:
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}
    # A page elsewhere cannot send JSON without the browser asking first (CORS), which this site never allows.
    assert client.post("/api/guestbook", json={"name": "a", "message": "b"}, headers=headers).status_code == 201


# Post limits per address.


def test_posts_beyond_the_limit_get_429_with_retry_after(site_settings: Settings) -> None:
    app = create_app(Settings(**{**site_settings.__dict__, "posts_per_minute": 3}))
    with TestClient(app, client=ME, base_url=OWNER_URL) as me, TestClient(app, client=SOMEONE_ELSE) as other:
        answers = [me.post("/api/guestbook", json={"name": "a", "message": str(n)}).status_code for n in range(4)]
        assert answers == [201, 201, 201, 429]
        refused = me.post("/api/guestbook", json={"name": "a", "message": "again"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        assert "Too many guestbook posts" in me.post("/api/guestbook?lang=en", json={"name": "a"}).json()["detail"]
        assert refused.json()["detail"].startswith("짧은 시간에 같은 IP 주소에서 방명록 메시지를 너무 많이 보냈습니다.")
        form = me.post("/guestbook", data={"name": "kim", "message": "hello"}, headers={"Accept-Language": "ko"})
        assert form.status_code == 429 and "retry-after" in form.headers
        assert "초 기다린 뒤 다시 보내 주세요" in form.text and 'value="kim"' in form.text
        assert other.post("/api/guestbook", json={"name": "b", "message": "mine"}).status_code == 201
        assert _entry_count(me) == 4


def test_the_limit_refills_with_time() -> None:
    now = [0.0]
    limiter = PostLimiter(6, clock=lambda: now[0])  # 6 at once, then one every 10 s
    assert [limiter.wait_seconds("a") for _ in range(7)] == [0, 0, 0, 0, 0, 0, 10]
    now[0] = 9.0
    assert limiter.wait_seconds("a") == 1
    now[0] = 10.5
    assert limiter.wait_seconds("a") == 0
    assert limiter.wait_seconds("b") == 0


def test_the_guestbook_keeps_its_newest_entries_up_to_the_cap(make_client: MakeClient) -> None:
    client = make_client(guestbook_max_entries=5)
    for number in range(8):
        assert client.post("/api/guestbook", json={"name": "n", "message": f"m{number}"}).status_code == 201
    messages = [entry["message"] for entry in client.get("/api/guestbook").json()["entries"]]
    assert messages == ["m7", "m6", "m5", "m4", "m3"]


# HEAD answers every GET route; dot-files are never served.


def test_head_answers_every_get_route_like_get_without_a_body(client: TestClient) -> None:
    paths = [
        path.replace("{path:path}", "index.html" if "static" in path else "dynamic.html")
        for path in get_routes(client.app)  # type: ignore[arg-type]
    ]
    paths += ["/static/index.html", "/docs", "/openapi.json"]
    for path in paths:
        if path in STREAMS:  # a stream the test client may open never ends: HEAD gets its headers and no stream
            head = client.head(path)
            assert head.content == b"", path
            if head.status_code == 200:
                assert head.headers["content-type"].startswith("text/event-stream"), path
            continue
        get, head = client.get(path, follow_redirects=False), client.head(path, follow_redirects=False)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == get.headers.get("content-type"), path
        # The same length too, where the content stays put between two requests (a count or a log does not).
        if path.startswith(("/static/", "/source/static/", "/docs", "/openapi.json")):
            assert head.headers["content-length"] == get.headers["content-length"], path


@pytest.mark.parametrize("name", [".env", ".git/config", ".index.html.swp", "sub/.hidden"])
def test_dot_files_are_never_served_or_shown(client: TestClient, site_settings: Settings, name: str) -> None:
    secret = site_settings.static_dir / name
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("SECRET_KEY=do-not-show")
    for path in (f"/static/{name}", f"/source/static/{name}", f"/static/./{name}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "do-not-show" not in response.text
    (Path(site_settings.templates_dir) / ".secret.html").write_text("do-not-show")
    assert client.get("/source/templates/.secret.html").status_code == 404


def test_a_link_inside_static_to_a_dot_file_is_not_served(client: TestClient, site_settings: Settings) -> None:
    (site_settings.static_dir / ".env").write_text("SECRET_KEY=do-not-show")
    (site_settings.static_dir / "envlink").symlink_to(".env")
    response = client.get("/static/envlink")
    # Refused as nginx refuses every link in static/ (disable_symlinks on): 403.
    assert response.status_code == 403 and "do-not-show" not in response.text
    assert client.get("/source/static/envlink").status_code == 404


def test_files_with_dots_inside_their_names_are_still_served(client: TestClient) -> None:
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/source/static/style.css").status_code == 200


# The SQLite file deleted or replaced while the site runs: said, never a silent loss.


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_or_replaced_sqlite_file_is_unavailable_not_a_silent_loss(
    client: TestClient, site_settings: Settings, how: str
) -> None:
    assert client.post("/api/guestbook", json={"name": "a", "message": "before"}).status_code == 201
    database = Path(site_settings.database_url.removeprefix("sqlite:///"))
    database.unlink()
    if how == "replaced":
        database.write_bytes(b"")
    refused = client.post("/api/guestbook", json={"name": "a", "message": "after"}, headers={"Accept-Language": "en"})
    assert refused.status_code == 503
    assert "nothing was read or stored" in refused.json()["detail"]
    assert client.get("/api/guestbook").status_code == 503
    page = client.get("/guestbook")
    assert page.status_code == 200 and 'class="notice' in page.text
    assert client.get("/ping").status_code == 200  # the rest of the site is unaffected
