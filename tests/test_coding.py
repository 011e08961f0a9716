from __future__ import annotations

import pytest

from thematic import coding
from thematic.codebook import add_code
from thematic.errors import InvalidInput, NotFound
from thematic.store import Store

from .conftest import dump
from .helpers import SMALL, make_corpus


@pytest.fixture
def seg(store: Store) -> dict[tuple[str, str, int], int]:
    return make_corpus(store, SMALL)


def test_apply_is_idempotent_per_coder_and_audited(store: Store, seg: dict) -> None:
    code = add_code(store, "Breathing")
    s = seg[("F1", "Q1", 1)]
    assert coding.apply_code(store, s, code, "anna") is True
    assert coding.apply_code(store, s, code, "anna") is False
    assert coding.apply_code(store, s, code, "ben") is True
    assert coding.coders(store) == ["anna", "ben"]
    event = store.audit_log()[0]
    assert (event.actor, event.action) == ("ben", "coding.apply")
    assert [c.coder for c in coding.codings(store, segment_ids=[s])] == ["anna", "ben"]


def test_apply_many_remove_and_undo(store: Store, seg: dict) -> None:
    code = add_code(store, "Q1 things")
    before = dump(store)
    ids = [seg[("F1", "Q1", 0)], seg[("F1", "Q1", 1)], seg[("F2", "Q1", 0)]]
    assert coding.apply_code_many(store, ids + ids[:1], code, "anna", origin="cluster") == 3
    assert {c.origin for c in coding.codings(store, code_id=code)} == {"cluster"}
    assert coding.remove_coding(store, ids[0], code, "anna") is True
    assert coding.remove_coding(store, ids[0], code, "anna") is False
    store.undo()
    assert len(coding.codings(store)) == 3
    store.undo()
    assert dump(store) == before


def test_bad_codings_change_nothing(store: Store, seg: dict) -> None:
    code = add_code(store, "C")
    before = dump(store)
    with pytest.raises(NotFound, match="no segment 424242"):
        coding.apply_code_many(store, [seg[("F1", "Q1", 0)], 424242], code, "anna")
    with pytest.raises(NotFound, match="no code"):
        coding.apply_code(store, seg[("F1", "Q1", 0)], 999, "anna")
    with pytest.raises(InvalidInput, match="origin"):
        coding.apply_code(store, seg[("F1", "Q1", 0)], code, "anna", origin="magic")
    with pytest.raises(InvalidInput):
        coding.ensure_coder(store, "  ")
    assert dump(store) == before


def test_counts_roll_up_segments_and_respondents(store: Store, seg: dict) -> None:
    theme = add_code(store, "Soothing")
    sub1 = add_code(store, "Breathing", parent_id=theme)
    sub2 = add_code(store, "Circles", parent_id=theme)
    other = add_code(store, "Environment")
    coding.apply_code(store, seg[("F1", "Q1", 1)], sub1, "anna")
    coding.apply_code(store, seg[("F2", "Q1", 0)], sub1, "anna")
    coding.apply_code(store, seg[("F1", "Q1", 0)], sub2, "anna")
    coding.apply_code(store, seg[("F1", "Q1", 0)], sub2, "ben")  # same segment, second coder: counted once
    counts = coding.code_counts(store)
    assert counts[sub1] == (2, 2)
    assert counts[sub2] == (1, 1)
    assert counts[theme] == (3, 2)
    assert counts[other] == (0, 0)
    assert coding.code_counts(store, rollup=False)[theme] == (0, 0)
    assert coding.code_counts(store, coder="ben")[theme] == (1, 1)


def test_code_counts_by_group_and_overlap(store: Store) -> None:
    from thematic.codebook import add_code
    from thematic.coding import apply_code, code_counts_by_group, code_overlap

    from .helpers import SMALL, make_corpus

    seg = make_corpus(store, SMALL)
    theme = add_code(store, "Practices")
    sub = add_code(store, "Breathing", parent_id=theme)
    other = add_code(store, "Calm")
    apply_code(store, seg[("F1", "Q1", 1)], sub, "anna")
    apply_code(store, seg[("F2", "Q1", 0)], sub, "anna")
    apply_code(store, seg[("F2", "Q1", 0)], other, "ben")
    apply_code(store, seg[("F1", "Q2", 0)], theme, "anna")
    by_q = code_counts_by_group(store, "question")
    assert by_q[theme] == {"Q1": (2, 2), "Q2": (1, 1)}
    assert by_q[sub] == {"Q1": (2, 2)}
    by_prof = code_counts_by_group(store, "profession")
    assert by_prof[theme] == {"Nurse": (2, 1), "Doctor": (1, 1)}
    assert code_counts_by_group(store, "profession", coder="ben") == {other: {"Doctor": (1, 1)}}
    assert code_counts_by_group(store, "missing_field")[other] == {"": (1, 1)}
    overlap = code_overlap(store, [theme, sub, other])
    assert overlap == {(min(theme, other), max(theme, other)): 1, (min(sub, other), max(sub, other)): 1}
    assert code_overlap(store, [theme, other], coder="anna") == {}
    assert code_overlap(store, [theme]) == {}


def test_coder_lookup_never_writes_and_creation_is_undone_with_its_step(store: Store, seg: dict) -> None:
    before = dump(store)
    assert coding.find_coder(store, "anna") is None
    with pytest.raises(NotFound, match="no coder 'anna'"), store.action("test.lookup", "look up") as act:
        coding.coder_id(act, "anna", create=False)
    assert dump(store) == before
    with store.action("test.create", "create") as act:
        made = coding.coder_id(act, "  anna   b ")
        assert coding.coder_id(act, "anna b", create=False) == made
    assert coding.find_coder(store, "anna  b") == made
    assert coding.require_coder(store, "anna b") == made
    with pytest.raises(NotFound, match=r"coders: anna b"):
        coding.require_coder(store, "ben")
    store.undo()
    assert dump(store) == before


def test_write_codings_adds_only_new_ones_and_keeps_a_given_time(store: Store, seg: dict) -> None:
    code = add_code(store, "Breathing")
    s1, s2 = seg[("F1", "Q1", 0)], seg[("F1", "Q1", 1)]
    with store.action("test.write", "write") as act:
        who = coding.coder_id(act, "anna")
        assert coding.write_codings(act, [(s1, code, who, "import", "2020-01-02T03:04:05")]) == 1
        assert coding.write_codings(act, [(s1, code, who, "human"), (s2, code, who, "human")]) == 1
        with pytest.raises(InvalidInput, match="unknown coding origin 'guess'"):
            coding.write_codings(act, [(s2, code, who, "guess")])
    got = {(c.segment_id, c.origin, c.created_at if c.origin == "import" else "") for c in coding.codings(store)}
    assert got == {(s1, "import", "2020-01-02T03:04:05"), (s2, "human", "")}


def test_move_codings_collapses_duplicates_into_the_target(store: Store, seg: dict) -> None:
    a, b = add_code(store, "A"), add_code(store, "B")
    s1, s2 = seg[("F1", "Q1", 0)], seg[("F1", "Q1", 1)]
    coding.apply_code_many(store, [s1, s2], a, "anna")
    coding.apply_code(store, s1, b, "anna")
    with store.action("test.move", "move") as act:
        assert coding.move_codings(act, a, b) == 1
    assert sorted((c.segment_id, c.code_id) for c in coding.codings(store)) == sorted([(s1, b), (s2, b)])


def test_apply_codes_is_one_step_and_one_undo_removes_all(store: Store, seg: dict) -> None:
    calm = add_code(store, "Calm")
    room = add_code(store, "Room")
    s = seg[("F1", "Q1", 1)]
    assert coding.apply_code(store, s, calm, "anna") is True
    before = dump(store)
    events = len(store.audit_log())
    made: list[int] = []

    def typed_on_the_spot() -> int:
        made.append(add_code(store, "Light"))
        return made[-1]

    # Calm was already there: 2 new codings of 3 codes, the new code created inside the same step
    assert coding.apply_codes(store, s, [calm, room, typed_on_the_spot], "anna") == 2
    log = store.audit_log()
    assert len(log) == events + 1
    assert (log[0].actor, log[0].action, log[0].summary) == ("anna", "coding.apply", f"Code segment {s} with 3 code(s)")
    assert sorted(c.code_id for c in coding.codings(store, segment_ids=[s])) == sorted([calm, room, made[0]])
    store.undo()
    assert dump(store) == before
