"""Span codings: a person's highlighted span keeps its exact offsets, undoes in one step, stays out of the
machine's queue, and travels like a segment (counts, REFI-QDA export)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.conftest import dump
from tests.helpers import make_corpus
from thematic import codebook, coding, corpus, spans
from thematic.errors import InvalidInput
from thematic.store import Store

TEXT = "The breathing exercise was calming. Too long a day though."


@pytest.fixture
def ids(store: Store) -> dict[tuple[str, str, int], int]:
    return make_corpus(
        store,
        [("R1", {"role": "Nurse"}, {"Q1": ["The breathing exercise was calming.", "Too long a day though."]})],
        questions=("Q1",),
    )


def _answer(store: Store) -> int:
    return int(store.scalar("SELECT id FROM answers"))


def test_a_span_inside_a_sentence_keeps_its_offsets_and_is_one_undoable_step(store: Store, ids: dict) -> None:
    calm = codebook.add_code(store, "Calm")
    aid = _answer(store)
    before = dump(store)
    start = TEXT.index("breathing")
    end = start + len("breathing exercise")
    seg, code = spans.code_span(store, aid, start - 1, end + 1, "ann", code_id=calm)  # spaces at the ends trimmed
    assert code == calm
    row = store.query_one('SELECT answer_id, start, "end", text, by_person FROM segments WHERE id = ?', (seg,))
    assert tuple(row) == (aid, 4, 22, "breathing exercise", 1)
    assert [(c.segment_id, c.code_id, c.coder) for c in coding.codings(store)] == [(seg, calm, "ann")]
    store.undo()
    assert dump(store) == before


def test_highlighting_exactly_a_segment_codes_that_segment(store: Store, ids: dict) -> None:
    calm = codebook.add_code(store, "Calm")
    seg, _ = spans.code_span(store, _answer(store), 0, len("The breathing exercise was calming."), "ann", code_id=calm)
    assert seg == ids[("R1", "Q1", 0)]
    assert store.scalar("SELECT count(*) FROM segments") == 2


def test_in_vivo_and_new_code_are_created_in_the_same_step(store: Store, ids: dict) -> None:
    aid = _answer(store)
    before = dump(store)
    s = TEXT.index("Too long")
    _, code = spans.code_span(store, aid, s, s + len("Too long"), "ann", new_code="Too long")
    assert codebook.get_code(store, code).name == "Too long"
    store.undo()
    assert dump(store) == before
    theme = codebook.add_code(store, "Day")
    _, sub = spans.code_span(store, aid, s, s + 8, "ann", new_code="Length", parent_id=theme)
    assert codebook.get_code(store, sub).path == ("Day", "Length")


def test_uncode_removes_an_unused_person_span_and_undo_restores_it(store: Store, ids: dict) -> None:
    calm = codebook.add_code(store, "Calm")
    seg, _ = spans.code_span(store, _answer(store), 4, 13, "ann", code_id=calm)
    before = dump(store)
    assert spans.uncode(store, seg, calm, "ann")
    assert store.query_one("SELECT 1 FROM segments WHERE id = ?", (seg,)) is None
    assert coding.codings(store) == []
    assert not spans.uncode(store, ids[("R1", "Q1", 0)], calm, "ann")
    store.undo()
    assert dump(store) == before


def test_uncode_keeps_a_span_another_coder_still_codes(store: Store, ids: dict) -> None:
    calm = codebook.add_code(store, "Calm")
    seg, _ = spans.code_span(store, _answer(store), 4, 13, "ann", code_id=calm)
    spans.code_span(store, _answer(store), 4, 13, "bob", code_id=calm)
    spans.uncode(store, seg, calm, "ann")
    assert [(c.segment_id, c.coder) for c in coding.codings(store)] == [(seg, "bob")]


def test_recode_moves_the_coding_in_one_step(store: Store, ids: dict) -> None:
    calm, rest = codebook.add_code(store, "Calm"), codebook.add_code(store, "Rest")
    sid = ids[("R1", "Q1", 0)]
    coding.apply_code(store, sid, calm, "ann")
    before = dump(store)
    spans.recode(store, sid, calm, rest, "ann")
    assert [(c.segment_id, c.code_id) for c in coding.codings(store)] == [(sid, rest)]
    store.undo()
    assert dump(store) == before


def test_bad_spans_are_refused_and_change_nothing(store: Store, ids: dict) -> None:
    calm = codebook.add_code(store, "Calm")
    before = dump(store)
    for start, end in ((5, 5), (-1, 4), (0, len(TEXT) + 1), (35, 36)):  # empty, outside, only a space
        with pytest.raises(InvalidInput):
            spans.code_span(store, _answer(store), start, end, "ann", code_id=calm)
    with pytest.raises(InvalidInput):
        spans.code_span(store, _answer(store), 0, 4, "ann")
    assert dump(store) == before


def test_the_machine_queue_leaves_person_spans_out_but_extracts_and_counts_keep_them(store: Store, ids: dict) -> None:
    calm = codebook.add_code(store, "Calm")
    seg, _ = spans.code_span(store, _answer(store), 4, 13, "ann", code_id=calm)
    assert corpus.count_segments(store, person_spans=False) == 2
    assert [s.id for s in corpus.segments(store, person_spans=False)] == [ids[("R1", "Q1", 0)], ids[("R1", "Q1", 1)]]
    assert [s.id for s in corpus.segments(store, code_id=calm)] == [seg]
    assert coding.code_counts(store)[calm] == (1, 1)
    found = spans.codings_in(store, [_answer(store)])
    assert [(c.start, c.end, c.text, c.by_person) for c in found] == [(4, 13, "breathing", True)]


def test_refi_export_carries_the_span_offsets(store: Store, ids: dict, tmp_path: Path) -> None:
    from thematic import export

    calm = codebook.add_code(store, "Calm")
    spans.code_span(store, _answer(store), 4, 13, "ann", code_id=calm)
    out = tmp_path / "p.qdpx"
    out.write_bytes(export.render(store, "qdpx"))
    with zipfile.ZipFile(out) as z:
        xml = z.read("project.qde").decode()
    assert 'startPosition="4"' in xml and 'endPosition="13"' in xml
