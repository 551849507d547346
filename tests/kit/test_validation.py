"""The one text policy: which characters are refused, and where the refusal says they are."""

from __future__ import annotations

from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from services.kit.validation import SafeText, TextBounds, refused_character

REFUSED = [
    chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFE, 0xFFFF]
]
# Every code point but the refused ones: letters of every script, emoji, tab, line feed, carriage return.
allowed = st.characters(codec=None, exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff") | st.sampled_from("\t\n\r")


class Form(BaseModel):
    body: SafeText
    title: Annotated[str, TextBounds(20, min_length=1, strip=True)]


def test_hand_worked_examples():
    assert refused_character("Tab\there,\r\nand a new line\n. Émoji 😀, Arabic نص, U+FFFD \ufffd") is None
    assert str(refused_character("ab\x01c")) == "the control character U+0001 at index 2"
    assert str(refused_character("\x00")) == "the control character U+0000 at index 0"
    assert str(refused_character("x\x7f")) == "the control character U+007F at index 1"
    assert str(refused_character("x\x85")) == "the control character U+0085 at index 1"
    assert str(refused_character("😀\ud800")) == "a lone surrogate U+D800 at index 1"
    assert str(refused_character("\uffff")) == "the non-character U+FFFF at index 0"


@given(st.text(allowed))
def test_text_without_refused_characters_is_accepted_as_sent(text):
    assert refused_character(text) is None
    assert Form(body=text, title="t").body == text


@given(st.text(allowed), st.sampled_from(REFUSED), st.text(st.characters(codec=None)))
def test_the_first_refused_character_is_named_with_its_index(before, bad, after):
    found = refused_character(before + bad + after)
    assert found is not None and found.index == len(before) and found.codepoint == ord(bad)
    with pytest.raises(ValidationError) as refused:
        Form(body=before + bad + after, title="t")
    [error] = refused.value.errors()
    assert error["loc"] == ("body",) and error["type"] == "refused_character"
    assert f"U+{ord(bad):04X}" in error["msg"] and f"at index {len(before)}" in error["msg"]


def test_the_index_is_the_senders_even_where_whitespace_is_stripped():
    with pytest.raises(ValidationError) as refused:
        Form(body="", title="  Title\x1f")  # str.strip() would have removed U+001F silently
    assert "U+001F (at index 7" in refused.value.errors()[0]["msg"]
    assert Form(body="", title="  Title  ").title == "Title"
