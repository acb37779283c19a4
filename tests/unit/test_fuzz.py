"""Generated input: schemathesis against the app's own OpenAPI schema, hypothesis against validation."""

from __future__ import annotations

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


def shows_the_same_everywhere(c: str) -> bool:
    """Not private use, not a non-character (U+FDD0 to U+FDEF, U+xxFFFE, U+xxFFFF), not a placeholder."""
    code = ord(c)
    noncharacter = 0xFDD0 <= code <= 0xFDEF or code % 0x10000 in (0xFFFE, 0xFFFF)
    return not (unicodedata.category(c) == "Co" or noncharacter or c in PLACEHOLDERS)


@given(
    st.text(st.characters(exclude_categories=()), max_size=600)
    | st.text(st.sampled_from(" \u200b\u200d\u2060\ufeff\u3164a\ud800\u0301\u202e\u2028\ue000\uffff"), max_size=5)
)
def test_clean_text_accepts_exactly_what_the_rules_allow(raw: str) -> None:
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
    acceptable = (
        bool(visible)
        and len(expected) <= 500
        and not any(unicodedata.category(c) == "Cc" and c != "\n" for c in expected)
        and not any(unicodedata.category(c) == "Cs" for c in expected)
        and not any(c in BIDI_CONTROLS or c in "\u2028\u2029" for c in expected)
        and all(shows_the_same_everywhere(c) for c in expected)
    )
    try:
        cleaned = clean_text(raw, field="message", max_length=500, allow_newlines=True)
    except InvalidText:
        assert not acceptable
    else:
        assert acceptable
        assert cleaned == expected
