"""Segmentation: spans tile the answer exactly; sentences, lists and line breaks split sensibly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thematic.errors import InvalidInput
from thematic.segment import Span, check_tiling, split, split_many


def texts_of(text: str, unit: str = "sentence") -> list[str]:
    spans = split(text, unit)
    check_tiling(text, spans)
    return [s.text for s in spans]


def test_sentences_keep_abbreviations_together() -> None:
    assert texts_of("Dr. Smith was lovely. The nurse, Mrs. Jones, was kind! I liked e.g. the breathing.") == [
        "Dr. Smith was lovely. ",
        "The nurse, Mrs. Jones, was kind! ",
        "I liked e.g. the breathing.",
    ]


def test_whitespace_belongs_to_the_span_before_and_leading_space_to_the_first() -> None:
    text = "  The three circles made sense.   Soothing rhythm breathing helped.  "
    spans = split(text)
    assert [s.text for s in spans] == ["  The three circles made sense.   ", "Soothing rhythm breathing helped.  "]
    assert spans[1].start == len(spans[0].text) and spans[-1].end == len(text)


def test_line_breaks_bullets_and_numbered_lists() -> None:
    assert texts_of("Breathing\n\n- the circles\n- group work") == ["Breathing\n\n", "- the circles\n", "- group work"]
    assert texts_of("1. The circles 2. breathing 3) nothing else") == ["1. The circles ", "2. breathing ", "3) nothing else"]
    assert texts_of("• a thing • another thing") == ["• a thing ", "• another thing"]
    # numbers that are not a list stay put
    assert texts_of("Aged 2) or 3. it was fine") == ["Aged 2) or 3. it was fine"]


def test_redaction_placeholders_are_never_cut() -> None:
    assert texts_of("[NAME] was great. Dr [NAME] explained the circles, and [NAME] ran the breathing.") == [
        "[NAME] was great. ",
        "Dr [NAME] explained the circles, and [NAME] ran the breathing.",
    ]


def test_pieces_without_letters_join_their_neighbour() -> None:
    assert texts_of("Great day. 👍") == ["Great day. 👍"]
    assert texts_of("Loved it!! !!") == ["Loved it!! !!"]
    assert texts_of("5") == ["5"]
    assert texts_of("*** Great day. Thanks") == ["*** Great day. ", "Thanks"]


def test_response_unit_is_one_span_and_blank_is_none() -> None:
    assert split("One. Two.", "response") == [Span(0, 9, "One. Two.")]
    assert split("   ", "sentence") == [] and split("", "response") == []


def test_unknown_unit() -> None:
    with pytest.raises(InvalidInput, match="unit"):
        split("x", "paragraph")


def test_split_many_matches_split_and_reports_progress() -> None:
    texts = ["One thing. Another thing.", "", "Line one\nLine two", "Only one"]
    seen: list[tuple[int, int]] = []
    many = split_many(texts, "sentence", progress=lambda d, t, m: seen.append((d, t)))
    assert many == [split(t) for t in texts]
    assert seen[-1] == (4, 4)


alphabet = st.sampled_from(list("ab .,!?\n\t-•1)(’£é😊") + ["Dr. ", "e.g. ", "2. ", "\r\n", "  ", "[NAME]", "A."])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(alphabet, max_size=40).map("".join), st.sampled_from(["sentence", "response"]))
def test_property_answer_is_recoverable_exactly(text: str, unit: str) -> None:
    spans = split(text, unit)
    if not text.strip():
        assert spans == []
        return
    assert "".join(s.text for s in spans) == text
    pos = 0
    for s in spans:
        assert s.start == pos and text[s.start : s.end] == s.text and s.text.strip()
        pos = s.end
    assert pos == len(text)
