"""One definition of the characters text from outside may not carry raw, and one escape for them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.text import BIDI_CONTROLS, IDENTIFIER_PATTERN, LINE_SEPARATORS, escape


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("Nghệ An\x1b[2J", "Nghệ An\\x1b[2J"),  # ESC: repaints a terminal
        ("line\nforged", "line\\x0aforged"),
        ("a\tb", "a\\x09b"),
        ("\x85next", "\\x85next"),  # C1 NEL
        ("abc\u202edef", "abc\\u202edef"),  # right-to-left override
        ("one\u2028two", "one\\u2028two"),
        ("\udc80", "\\udc80"),  # a lone surrogate
        ("Bộ Tư pháp", "Bộ Tư pháp"),
    ],
)
def test_every_harmful_character_is_written_as_a_visible_escape(text: str, escaped: str) -> None:
    assert escape(text) == escaped


def test_a_terminal_line_keeps_its_tabs() -> None:
    assert escape("a\tb\nc", keep_tab=True) == "a\tb\\x0ac"


@given(st.characters(codec="utf-8"))
def test_a_character_an_identifier_refuses_is_one_escape_rewrites(char: str) -> None:
    refused = re.fullmatch(IDENTIFIER_PATTERN, char) is None
    rewritten = escape(char) != char
    shown_apart = re.fullmatch(f"[{BIDI_CONTROLS}{LINE_SEPARATORS}]", char) is not None  # allowed in ids, not raw
    assert refused == (rewritten and not shown_apart)
