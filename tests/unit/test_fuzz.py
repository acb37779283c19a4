"""Generated input: schemathesis against the app's own OpenAPI schema, hypothesis against validation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from webapp.guestbook import InvalidText, clean_text
from webapp.main import create_app
from webapp.settings import Settings

EXAMPLES_PER_OPERATION = 60
# schemathesis's own pytest plugin does not work with pytest 9 yet, so each
# operation is a parametrized test that runs hypothesis over its strategy.
OPERATIONS = [
    result.ok().label
    for result in schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(Settings(database_url="sqlite://"))
    ).get_all_operations()
]


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_operation_answers_500_or_breaks_its_schema(site_settings: Settings, label: str) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(replace(site_settings)))
    operation = api.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

    check()


BLANK_LETTERS = "\u115f\u1160\u3164\uffa0\u2800"  # letters that show as nothing (Hangul fillers, braille blank)
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Shown differently, or as nothing, by each reader's device: U+FFF9 to U+FFFC stand for something not in the text.
PLACEHOLDERS = "\ufff9\ufffa\ufffb\ufffc"
# England's flag: U+1F3F4, "gbeng" in tag characters, the cancel tag U+E007F. Tags anywhere else are refused.
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
# A flag's tags: 3 to 7 lowercase letters or digits (a subdivision code), then the cancel tag.
FLAG_TAGS = re.compile("(?<=\U0001f3f4)[\U000e0030-\U000e0039\U000e0061-\U000e007a]{3,7}\U000e007f")
FIELDS = {"name": (40, False), "message": (500, True)}  # longest, and whether line breaks are allowed


def shows_the_same_everywhere(c: str) -> bool:
    """Not private use, not a non-character (U+FDD0 to U+FDEF, U+xxFFFE, U+xxFFFF), not a placeholder."""
    code = ord(c)
    noncharacter = 0xFDD0 <= code <= 0xFDEF or code % 0x10000 in (0xFFFE, 0xFFFF)
    return not (unicodedata.category(c) == "Co" or noncharacter or c in PLACEHOLDERS)


def assigned_or_a_future_emoji(c: str) -> bool:
    """Python's Unicode assigns it, or it lies where Unicode keeps room for pictographs (U+1F000 to U+1FAFF,
    U+1FC00 to U+1FFFD)."""
    code = ord(c)
    return unicodedata.category(c) != "Cn" or 0x1F000 <= code <= 0x1FAFF or 0x1FC00 <= code <= 0x1FFFD


def most_marks_on_one_character(text: str) -> int:
    """The longest run of combining marks, joiners (U+200C, U+200D) between them not breaking it."""
    shape = "".join("m" if unicodedata.category(c)[0] == "M" else "j" if c in "\u200c\u200d" else " " for c in text)
    return max((run.count("m") for run in shape.split()), default=0)


@given(
    st.sampled_from(sorted(FIELDS)),
    st.text(st.characters(exclude_categories=()), max_size=600)
    | st.text(st.characters(exclude_categories=("Cn", "Co", "Cs")), max_size=45)
    | st.lists(
        st.sampled_from(
            " \n\u200b\u200c\u200d\u2060\ufeff\u00ad\u3164a\ud800\u0301\u202e\u2028\ue000\uffff\u0378\U0001fa77"
            "\U000e0041\U000e0067\U000e007f\U0001f3f4"
        )
        | st.sampled_from([ENGLAND, "\u0301\u0336\u0323"]),  # a flag; three marks, to stack past the limit of 4
        max_size=8,
    ).map("".join),
)
def test_clean_text_accepts_exactly_what_the_rules_allow(field: str, raw: str) -> None:
    max_length, allow_newlines = FIELDS[field]
    expected = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    visible = [
        c
        for c in expected
        if not (
            c.isspace()
            or unicodedata.category(c) == "Cf"
            or c in BLANK_LETTERS
            or unicodedata.category(c).startswith("M")  # a combining mark alone shows as nothing or a stray accent
        )
    ]
    untagged = FLAG_TAGS.sub("", expected)
    acceptable = (
        bool(visible)
        and len(expected) <= max_length
        and not any(unicodedata.category(c) == "Cc" and not (allow_newlines and c == "\n") for c in expected)
        and not any(unicodedata.category(c) == "Cs" for c in expected)
        and not any(c in BIDI_CONTROLS or c in "\u2028\u2029" for c in expected)
        and all(shows_the_same_everywhere(c) for c in expected)
        and not any(0xE0000 <= ord(c) <= 0xE007F for c in untagged)
        and all(assigned_or_a_future_emoji(c) for c in expected)
        # A name may have no invisible format character but the joiners; a message may (Thai word breaks...).
        and (field == "message" or all(unicodedata.category(c) != "Cf" or c in "\u200c\u200d" for c in untagged))
        and most_marks_on_one_character(expected) <= 4
    )
    try:
        cleaned = clean_text(
            raw,
            field=field,
            max_length=max_length,
            allow_newlines=allow_newlines,
            allow_format_characters=field == "message",
        )
    except InvalidText:
        assert not acceptable
    else:
        assert acceptable
        assert cleaned == expected
