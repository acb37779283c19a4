"""The instructor's guide (docs/class.md, docs/class.en.md) says what the stack does: both languages exist and are
linked, its table of limits is tools.stack's own, every option it names exists, and every page its plan projects
is there."""

from __future__ import annotations

import re
import shlex

import pytest
from fastapi.testclient import TestClient
from uvicorn.main import main as uvicorn_command

from tests.support import markdown_table
from tests.unit.test_korean import PARENTHESISED_PARTICLE, _wrong_words
from tools.stack import CLASS_LIMITS, CLIENT_LIMITS, parse_args
from webapp.live import STREAMS_PER_WORKER
from webapp.paths import PROJECT_ROOT

GUIDES = {"ko": "docs/class.md", "en": "docs/class.en.md"}
READMES = {"ko": "README.md", "en": "README.en.md"}
# The first cell of each guide's limits table and of its 50-minute plan.
LIMITS_HEADER = {"ko": "제한(IP 주소마다)", "en": "limit (per IP address)"}
PLAN_HEADER = {"ko": "시간", "en": "minutes"}
# The limits table's rows, in order: the tools.stack limits each row's numbers are.
LIMIT_ROWS = [
    ("connections",),
    ("requests_per_second", "request_burst"),
    ("posts_per_minute", "post_burst"),
    ("static_per_second", "static_burst"),
    ("live_streams",),
]
NUMBER = re.compile(r"\d[\d,]*")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
STACK_COMMAND = re.compile(r"-m tools\.stack\b(.*)$")


def _text(path: str) -> str:
    return (PROJECT_ROOT / path).read_text(encoding="utf-8")


def _numbers(cell: str) -> list[int]:
    return [int(number.replace(",", "")) for number in NUMBER.findall(cell)]


def _code(text: str) -> list[str]:
    """Every inline code span and every line of a code block in a Markdown text, comments left out."""
    blocks = re.findall(r"```\w*\n(.*?)```", text, re.DOTALL)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return [code for code in [*lines, *inline] if code]


def _stack_options(capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The options `python -m tools.stack --help` lists."""
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--help"])
    assert exit_.value.code == 0
    return set(OPTION.findall(capsys.readouterr().out))


def _uvicorn_options() -> set[str]:
    return {option for parameter in uvicorn_command.params for option in parameter.opts if option.startswith("--")}


@pytest.mark.parametrize("language", ["ko", "en"])
def test_both_class_guides_exist_and_link_each_other(language: str) -> None:
    other = GUIDES["en" if language == "ko" else "ko"]
    text = _text(GUIDES[language])
    assert text.startswith("# ")
    assert f"]({other.removeprefix('docs/')})" in text.split("\n\n")[1], "the language line links the other guide"
    assert f"](../{READMES[language]})" in text


@pytest.mark.parametrize("language", ["ko", "en"])
def test_each_readme_links_the_class_guide_in_its_own_language(language: str) -> None:
    text = _text(READMES[language])
    assert f"]({GUIDES[language]})" in text
    other = GUIDES["en" if language == "ko" else "ko"]
    assert f"]({other})" not in text


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_class_guides_table_of_limits_is_the_stacks_own(language: str) -> None:
    rows = markdown_table(_text(GUIDES[language]), LIMITS_HEADER[language])
    assert len(rows) == len(LIMIT_ROWS)
    shown = [(_numbers(row[1]), _numbers(row[2])) for row in rows]
    expected = [([CLASS_LIMITS[key] for key in keys], [CLIENT_LIMITS[key] for key in keys]) for keys in LIMIT_ROWS]
    assert shown == expected
    assert [key for keys in LIMIT_ROWS for key in keys] == list(CLASS_LIMITS) == list(CLIENT_LIMITS)


@pytest.mark.parametrize(
    ("language", "said"), [("ko", "`/live` 연결을 {}개까지"), ("en", "up to {} `/live` connections")]
)
def test_the_class_guide_gives_the_workers_own_cap_on_live_pages(language: str, said: str) -> None:
    assert said.format(STREAMS_PER_WORKER) in re.sub(r"\s+", " ", _text(GUIDES[language]))


def test_the_limits_check_reads_numbers_as_the_guides_write_them() -> None:
    assert _numbers("초당 3,000개, 한꺼번에 6,000개까지") == [3000, 6000]
    assert _numbers("200 a second, bursts of 800") == [200, 800]
    assert _numbers("| 400 |") == [400]


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_option_the_class_guide_names_exists(language: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Options in a tools.stack command are the stack's, in a uvicorn command uvicorn's; an option named on its
    own (`--class`, `--reload`) is one of the two. Commands of other programs (sudo ufw ...) are not checked."""
    stack, uvicorn = _stack_options(capsys), _uvicorn_options()
    assert {"--class", "--listen", "--server-name", "--no-restart"} <= stack
    unknown = []
    for code in _code(_text(GUIDES[language])):
        if "tools.stack" in code:
            known = stack
        elif "uvicorn" in code:
            known = uvicorn
        elif code.startswith("--"):
            known = stack | uvicorn
        else:
            continue
        unknown += [f"{option} in {code!r}" for option in OPTION.findall(code) if option not in known]
    assert unknown == []


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_stack_command_in_the_class_guide_parses(language: str) -> None:
    commands = [found.group(1) for code in _code(_text(GUIDES[language])) if (found := STACK_COMMAND.search(code))]
    assert any("--class" in arguments for arguments in commands)
    for arguments in commands:
        parse_args(shlex.split(arguments))  # argparse exits on an option or value it does not take


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_page_the_class_plan_projects_exists(client: TestClient, language: str) -> None:
    rows = markdown_table(_text(GUIDES[language]), PLAN_HEADER[language])
    assert len(rows) == 9, "step 0, /ping, home, /dynamic, source, /compare, /guestbook, the stack, /bench"
    paths = [path for row in rows for path in re.findall(r"`(/[^`\s]+)`", row[2])]
    assert {"/ping", "/dynamic", "/compare", "/guestbook", "/live", "/bench"} <= set(paths)
    missing = [path for path in paths if client.get(path).status_code != 200]
    assert missing == []


def test_the_korean_class_guide_follows_the_korean_rules() -> None:
    text = _text(GUIDES["ko"])
    assert PARENTHESISED_PARTICLE.findall(text) == []
    # As a reader sees it: a line break inside a paragraph is a space, so "이름\n  (" is "이름 (" too.
    assert _wrong_words(re.sub(r"\s*\n\s*", " ", re.sub(r"```.*?```", "", text, flags=re.DOTALL))) == []
