from __future__ import annotations

import pytest

from thematic import corpus
from thematic.codebook import add_code
from thematic.coding import apply_code
from thematic.errors import NotFound
from thematic.store import Store

from .helpers import SMALL, make_corpus


@pytest.fixture
def seg(store: Store) -> dict[tuple[str, str, int], int]:
    return make_corpus(store, SMALL)


def test_segments_in_reading_order_with_pagination(store: Store, seg: dict) -> None:
    all_ = corpus.segments(store)
    assert [s.text for s in all_][:3] == ["The three circles made sense.", "Loved the breathing.", "Too hot in the room."]
    assert corpus.count_segments(store) == len(all_) == 6
    page = corpus.segments(store, offset=2, limit=2)
    assert [s.id for s in page] == [s.id for s in all_[2:4]]
    assert all_[0].external_id == "F1" and all_[0].question == "Q1"


def test_filters_question_search_phrase_meta_and_coded(store: Store, seg: dict) -> None:
    q1 = corpus.question_by_ref(store, "Q1")
    assert corpus.count_segments(store, question_id=q1.id) == 4
    assert [s.text for s in corpus.segments(store, search="breathing")] == [
        "Loved the breathing.", "Soothing rhythm breathing was calming."]
    assert [s.text for s in corpus.segments(store, search='"rhythm breathing"')] == ["Soothing rhythm breathing was calming."]
    assert corpus.count_segments(store, search="100%") == 0
    assert corpus.count_segments(store, meta={"profession": ["Nurse"]}) == 4
    assert corpus.count_segments(store, meta={"profession": "Nurse", "gender": "Male"}) == 1
    code = add_code(store, "Breathing")
    apply_code(store, seg[("F2", "Q1", 0)], code, "anna")
    assert corpus.count_segments(store, coded=True) == 1
    assert corpus.count_segments(store, coded=False) == 5
    assert corpus.count_segments(store, coded=True, coder="ben") == 0


def test_question_refs_and_meta(store: Store, seg: dict) -> None:
    assert corpus.question_by_ref(store, 2).key == "Q2"
    with pytest.raises(NotFound, match="questions: 1. Q1; 2. Q2"):
        corpus.question_by_ref(store, "Q9")
    assert corpus.meta_fields(store) == ["gender", "profession"]
    assert corpus.meta_values(store, "profession") == [("Nurse", 2), ("Doctor", 1)]
    forms = corpus.forms(store)
    assert forms[0].meta == {"profession": "Nurse", "gender": "Female"}


def test_get_segments_keeps_order_and_names_missing(store: Store, seg: dict) -> None:
    a, b = seg[("F2", "Q1", 0)], seg[("F1", "Q1", 0)]
    assert [s.id for s in corpus.get_segments(store, [a, b])] == [a, b]
    with pytest.raises(NotFound, match="no segment 9999"):
        corpus.get_segments(store, [a, 9999])


def test_answers_listing(store: Store, seg: dict) -> None:
    rows = corpus.answers(store, question_id=corpus.question_by_ref(store, "Q2").id)
    assert [r["external_id"] for r in rows] == ["F1", "F2"]
    assert rows[1]["text"] == "Nothing, it was great."


def test_segments_by_code_roll_up_subcodes(store: Store, seg: dict) -> None:
    theme = add_code(store, "Practices")
    sub = add_code(store, "Breathing", parent_id=theme)
    other = add_code(store, "Environment")
    apply_code(store, seg[("F1", "Q1", 1)], sub, "anna")
    apply_code(store, seg[("F2", "Q1", 0)], theme, "ben")
    apply_code(store, seg[("F1", "Q2", 0)], other, "anna")
    assert [s.id for s in corpus.segments(store, code_id=theme)] == [seg[("F1", "Q1", 1)], seg[("F2", "Q1", 0)]]
    assert [s.id for s in corpus.segments(store, code_id=sub)] == [seg[("F1", "Q1", 1)]]
    assert corpus.count_segments(store, code_id=theme) == 2
    assert corpus.count_segments(store, code_id=theme, question_id=corpus.question_by_ref(store, "Q2").id) == 0
    assert corpus.segments(store, code_id=theme, offset=1, limit=5)[0].id == seg[("F2", "Q1", 0)]


def test_answers_search_and_meta(store: Store, seg: dict) -> None:
    q1 = corpus.question_by_ref(store, "Q1").id
    assert corpus.count_answers(store) == 5
    assert corpus.count_answers(store, question_id=q1) == 3
    hits = corpus.answers(store, search="breathing")
    assert [a["external_id"] for a in hits] == ["F1", "F2"]
    assert [a["external_id"] for a in corpus.answers(store, search='"rhythm breathing"')] == ["F2"]
    assert corpus.count_answers(store, search="circles breathing") == 1
    assert corpus.count_answers(store, search="100%") == 0
    assert [a["external_id"] for a in corpus.answers(store, meta={"profession": "Nurse"}, question_id=q1)] == ["F1", "F3"]
    assert corpus.answers(store, search="the", offset=1, limit=1)[0]["external_id"] == "F1"


def test_a_filter_can_pick_forms_with_no_value(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """"(missing)" (the value "") is a choice of its own: forms with no cell or an empty one for the field."""
    from .helpers import forms_missing_profession

    with Store(":memory:") as s:
        forms_missing_profession(tmp_path, s)
        assert corpus.meta_choices(s, "Profession") == [("Nurse", 2), ("Doctor", 1), ("", 2)]
        texts = lambda meta: sorted(a["text"] for a in corpus.answers(s, meta=meta))  # noqa: E731
        assert texts({"Profession": [""]}) == ["The room.", "The videos."]
        assert texts({"Profession": ["", "Doctor"]}) == ["The room.", "The talk.", "The videos."]
        assert texts({"Profession": ["Nurse"]}) == ["Lunch.", "The breathing."]
        assert corpus.count_segments(s, meta={"Profession": [""]}) == 2
