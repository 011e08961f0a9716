"""Theme warnings (thematic.review): thin themes, overlapping themes, near-duplicate names."""

from __future__ import annotations

from tests.helpers import make_corpus
from thematic import codebook, coding, review
from thematic.store import Store


def _forms(n: int) -> list[tuple[str, dict[str, str], dict[str, list[str]]]]:
    return [(f"R{i}", {}, {"Q1": [f"Sentence {i}a.", f"Sentence {i}b."]}) for i in range(n)]


def test_thin_theme_counts_respondents_with_subcodes_rolled_up(store: Store) -> None:
    ids = make_corpus(store, _forms(4), questions=("Q1",))
    theme = codebook.add_code(store, "Setting")
    sub = codebook.add_code(store, "Room", parent_id=theme)
    lone = codebook.add_code(store, "Lunch")
    for i in range(3):  # three respondents through the subcode: not thin
        coding.apply_code(store, ids[(f"R{i}", "Q1", 0)], sub, "ann")
    coding.apply_code(store, ids[("R0", "Q1", 0)], lone, "ann")
    coding.apply_code(store, ids[("R0", "Q1", 1)], lone, "ann")  # two segments, one respondent: thin
    got = [(w.kind, w.codes, w.value) for w in review.warnings(store) if w.kind == "thin"]
    assert got == [("thin", (lone,), 1.0)]
    with_subs = [(w.codes, w.value) for w in review.warnings(store, max_depth=1) if w.kind == "thin"]
    assert with_subs == [((lone,), 1.0)]  # "Room" has 3 respondents


def test_overlap_at_half_the_smaller_theme_warns_and_below_does_not(store: Store) -> None:
    ids = make_corpus(store, _forms(4), questions=("Q1",))
    a, b, c = (codebook.add_code(store, n) for n in ("Kindness", "Breathing", "Venue"))
    segs = [ids[(f"R{i}", "Q1", 0)] for i in range(4)]
    for s in segs:
        coding.apply_code(store, s, a, "ann")
    for s in segs[:2] + [ids[("R3", "Q1", 1)], ids[("R2", "Q1", 1)]]:  # 2 of its 4 shared with a: 0.5
        coding.apply_code(store, s, b, "ann")
    for s in [segs[3], ids[("R0", "Q1", 1)], ids[("R1", "Q1", 1)]]:  # 1 of its 3 shared with a, none with b
        coding.apply_code(store, s, c, "ann")
    got = [(w.codes, w.value, w.shared) for w in review.warnings(store) if w.kind == "overlap"]
    assert got == [((a, b), 0.5, 2)]


def test_similar_names_warn_at_the_threshold(store: Store) -> None:
    a = codebook.add_code(store, "Compassion for others")
    b = codebook.add_code(store, "compassion for other")
    codebook.add_code(store, "Venue")
    got = [(w.codes, round(w.value, 2)) for w in review.warnings(store) if w.kind == "similar"]
    assert got == [((a, b), 0.98)]  # 2 * 20 matching characters / (21 + 20)
    assert review.similar_names([]) == []
