from __future__ import annotations

import io
from pathlib import Path

import pytest

from thematic import codebook as cb
from thematic.codebook.files import Codebook, CodebookEntry, import_codebook, read_codebook, write_codebook_yaml
from thematic.coding import apply_code, codings
from thematic.errors import Conflict, InvalidInput
from thematic.memos import memos
from thematic.store import Store

from .conftest import dump
from .helpers import SMALL, make_corpus


def paths(store: Store) -> list[str]:
    return [c.path_str for c in cb.list_codes(store)]


def test_tree_add_move_promote_demote(store: Store) -> None:
    t1 = cb.add_code(store, "Workshop delivery")
    t2 = cb.add_code(store, "Power of group")
    a = cb.add_code(store, "  Safe   space ", parent_id=t1)
    b = cb.add_code(store, "Lived experience", parent_id=t1)
    assert paths(store) == ["Workshop delivery", "Workshop delivery/Safe space", "Workshop delivery/Lived experience",
                            "Power of group"]
    cb.move_code(store, b, t2)
    assert "Power of group/Lived experience" in paths(store)
    cb.promote(store, b)
    assert paths(store) == ["Workshop delivery", "Workshop delivery/Safe space", "Power of group", "Lived experience"]
    cb.demote(store, b)
    assert paths(store)[-1] == "Power of group/Lived experience"
    cb.move_code(store, a, t1, position=0)
    roots = cb.tree(store)
    assert [n.code.name for n in roots] == ["Workshop delivery", "Power of group"]
    assert [c.code.name for c in roots[1].children] == ["Lived experience"]
    assert cb.get_code(store, b).depth == 1
    assert cb.get_code(store, t1).colour.startswith("#")


def test_promote_puts_the_code_right_after_its_old_parent_even_after_deletions(store: Store) -> None:
    gone, b, c, d = (cb.add_code(store, n) for n in ("Gone", "B", "C", "D"))
    x = cb.add_code(store, "X", parent_id=b)
    cb.delete_code(store, gone)  # leaves B, C, D at stored positions 1, 2, 3
    cb.promote(store, x)
    assert paths(store) == ["B", "X", "C", "D"]


def test_promote_and_demote_keep_every_other_code_in_place(store: Store) -> None:
    a, b = cb.add_code(store, "A"), cb.add_code(store, "B")
    a1, a2, a3 = (cb.add_code(store, n, parent_id=a) for n in ("a1", "a2", "a3"))
    b1 = cb.add_code(store, "b1", parent_id=b)
    cb.promote(store, a2)
    assert paths(store) == ["A", "A/a1", "A/a3", "a2", "B", "B/b1"]
    cb.demote(store, a2)  # back under the sibling above it, as its last subcode
    assert paths(store) == ["A", "A/a1", "A/a3", "A/a2", "B", "B/b1"]
    cb.demote(store, b)  # under A, after A's own subcodes, carrying b1 with it
    assert paths(store) == ["A", "A/a1", "A/a3", "A/a2", "A/B", "A/B/b1"]
    cb.demote(store, a3)  # under a1 (its sibling above), a2 and B stay where they were
    assert paths(store) == ["A", "A/a1", "A/a1/a3", "A/a2", "A/B", "A/B/b1"]
    assert [cb.get_code(store, i).position for i in (a1, a2, b)] == [0, 1, 2]
    assert cb.get_code(store, b1).depth == 2


def test_move_code_is_drag_and_drop_among_siblings_and_parents(store: Store) -> None:
    a, b, c, d = (cb.add_code(store, n) for n in ("A", "B", "C", "D"))
    t = cb.add_code(store, "T", parent_id=d)
    start = dump(store)
    cb.move_code(store, a, None, 2)  # drop A after C (index into B, C, D)
    assert paths(store) == ["B", "C", "A", "D", "D/T"]
    cb.move_code(store, d, None, 0)  # drag D to the top, its subcode with it
    assert paths(store) == ["D", "D/T", "B", "C", "A"]
    cb.move_code(store, b, d, 0)  # onto another parent, before its first child
    assert paths(store) == ["D", "D/B", "D/T", "C", "A"]
    cb.move_code(store, c, d, 99)  # past the end: last
    assert paths(store) == ["D", "D/B", "D/T", "D/C", "A"]
    assert [cb.get_code(store, i).position for i in (b, t, c)] == [0, 1, 2]
    n_events = len(store.audit_log())
    cb.move_code(store, t, d, 1)  # where it already is: nothing recorded
    assert len(store.audit_log()) == n_events
    with pytest.raises(Conflict, match="under itself"):
        cb.move_code(store, d, b, 0)
    for _ in range(4):
        store.undo()
    assert dump(store) == start


def test_merge_by_drop_is_merge_codes(store: Store) -> None:
    seg = make_corpus(store, SMALL)
    a, b = cb.add_code(store, "A"), cb.add_code(store, "B")
    s = seg[("F1", "Q1", 0)]
    apply_code(store, s, a, "anna")
    apply_code(store, s, b, "anna")
    assert cb.merge_codes(store, a, b) == {"codings_before": 1, "moved": 0, "collapsed": 1}
    assert paths(store) == ["B"] and [(c.segment_id, c.code_id) for c in codings(store)] == [(s, b)]


def test_rules_sibling_names_cycles_and_names(store: Store) -> None:
    t = cb.add_code(store, "Theme")
    s = cb.add_code(store, "Sub", parent_id=t)
    with pytest.raises(Conflict):
        cb.add_code(store, "theme")
    with pytest.raises(Conflict, match="under itself"):
        cb.move_code(store, t, s)
    with pytest.raises(InvalidInput):
        cb.add_code(store, "   ")
    with pytest.raises(Conflict):
        cb.promote(store, t)
    with pytest.raises(Conflict):
        cb.demote(store, t)


def test_update_code_and_undo(store: Store) -> None:
    t = cb.add_code(store, "Theme")
    before = dump(store)
    cb.update_code(store, t, name="Better name", definition="What it is", includes="in", excludes="out")
    c = cb.get_code(store, t)
    assert (c.name, c.definition, c.includes, c.excludes) == ("Better name", "What it is", "in", "out")
    assert store.audit_log()[0].summary == "Rename 'Theme' to 'Better name'"
    store.undo()
    assert dump(store) == before


def test_merge_moves_codings_collapses_duplicates_keeps_definition(store: Store) -> None:
    seg = make_corpus(store, SMALL)
    src = cb.add_code(store, "Breathing", definition="Soothing rhythm breathing")
    dst = cb.add_code(store, "Soothing")
    child = cb.add_code(store, "Child", parent_id=src)
    s1, s2 = seg[("F1", "Q1", 1)], seg[("F2", "Q1", 0)]
    apply_code(store, s1, src, "anna")
    apply_code(store, s2, src, "anna")
    apply_code(store, s2, dst, "anna")  # the duplicate
    apply_code(store, s2, src, "ben")
    before = dump(store)
    result = cb.merge_codes(store, src, dst)
    assert result == {"codings_before": 3, "moved": 2, "collapsed": 1}
    assert sorted((c.segment_id, c.coder) for c in codings(store, code_id=dst)) == sorted(
        [(s1, "anna"), (s2, "anna"), (s2, "ben")])
    assert cb.get_code(store, child).parent_id == dst
    (memo,) = memos(store, code_id=dst)
    assert "Soothing rhythm breathing" in memo.body
    store.undo()
    assert dump(store) == before


def test_merge_refuses_clashing_children_and_changes_nothing(store: Store) -> None:
    a, b = cb.add_code(store, "A"), cb.add_code(store, "B")
    cb.add_code(store, "Same", parent_id=a)
    cb.add_code(store, "same", parent_id=b)
    before = dump(store)
    with pytest.raises(Conflict, match="merge those two first"):
        cb.merge_codes(store, a, b)
    assert dump(store) == before


def test_delete_cascades_and_undo_restores(store: Store) -> None:
    seg = make_corpus(store, SMALL)
    t = cb.add_code(store, "T")
    s = cb.add_code(store, "S", parent_id=t)
    apply_code(store, seg[("F1", "Q1", 0)], s, "anna")
    before = dump(store)
    cb.delete_code(store, t)
    assert store.counts()["codes"] == 0 and store.counts()["codings"] == 0
    assert "1 codings" in store.audit_log()[0].summary
    store.undo()
    assert dump(store) == before


def test_ensure_path_find_and_quotes(store: Store) -> None:
    seg = make_corpus(store, SMALL)
    leaf = cb.ensure_path(store, "Theme/Sub/Code", definition="leaf def")
    assert cb.ensure_path(store, ["theme", "SUB", "code"]) == leaf
    assert cb.find_code(store, "Theme/Sub/Code").definition == "leaf def"
    assert cb.find_code(store, "Theme/Nope") is None
    assert [e.action for e in store.audit_log()] == ["code.ensure", "test.corpus"]  # the second one left no event
    ids = [seg[("F1", "Q1", 0)], seg[("F2", "Q1", 0)]]
    cb.set_quotes(store, leaf, ids)
    assert cb.quotes(store, leaf) == ids
    cb.set_quotes(store, leaf, ids[::-1])
    assert cb.quotes(store, leaf) == ids[::-1]
    cb.set_quotes(store, leaf, ids[:1] * 2)  # the same segment twice is one quote
    assert cb.quotes(store, leaf) == ids[:1]
    cb.set_quotes(store, leaf, [])
    assert [e.summary for e in store.audit_log()[:4]] == [
        "Cleared the quotes of 'Code'", "Chose 1 quote for 'Code'", "Chose 2 quotes for 'Code'",
        "Chose 2 quotes for 'Code'"]


YAML = """
format: thematic-codebook/1
name: demo
title: Demo
codes:
  - name: Comprehension of compassion
    definition: Understanding compassion.
    colour: "#4477AA"
    children:
      - name: Three flows
        definition: To, from, self.
        examples: ["Compassion flows three ways"]
  - Workshop delivery
"""


def test_yaml_and_csv_codebooks_import_and_round_trip(store: Store, tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(YAML)
    book = read_codebook(tmp_path / "demo.yaml")
    assert len(book) == 3 and book.codes[0].children[0].examples == ["Compassion flows three ways"]
    assert import_codebook(store, book) == 3
    assert import_codebook(store, book) == 0  # reused, not duplicated
    assert cb.tree(store)[0].children[0].examples == ["Compassion flows three ways"]
    out = io.StringIO()
    write_codebook_yaml(cb.codebook_from_store(store, name="demo"), out)
    again = read_codebook(_named(out.getvalue(), "x.yaml"))
    assert [p for p, _ in again.walk()] == [p for p, _ in book.walk()]
    csv_text = "path,definition\nA/B,b def\nA/C,\nD,d def\n"
    book2 = read_codebook(_named(csv_text, "cb.csv"))
    assert [("/".join(p), e.definition) for p, e in book2.walk()] == [("A", ""), ("A/B", "b def"), ("A/C", ""), ("D", "d def")]
    assert [e.action for e in store.audit_log()] == ["codebook.import"]  # the second import changed nothing
    store.undo()
    assert store.counts()["codes"] == 0


def _named(text: str, name: str) -> io.BytesIO:
    buf = io.BytesIO(text.encode("utf-8"))
    buf.name = name
    return buf


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "codes: [", "not valid YAML"),
        ("bad.yaml", "title: x", "'codes:' list"),
        ("bad.yaml", "codes:\n  - definition: nameless", "has no name"),
        ("bad.csv", "foo,bar\n1,2\n", "'path' column"),
        ("bad.csv", "path\nA//B\n", "row 2"),
        ("bad.txt", "x", "unknown codebook type"),
        ("cb.qdc", "<CodeBook/>", "read by the REFI-QDA importer"),  # the codebook package never reads REFI-QDA
    ],
)
def test_bad_codebook_files_are_one_clear_error(name: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_codebook(_named(text, name))


def test_codebook_walk_and_len() -> None:
    book = Codebook("x", codes=[CodebookEntry("A", children=[CodebookEntry("B")])])
    assert [p for p, _ in book.walk()] == [("A",), ("A", "B")]
    assert len(book) == 2


def test_names_may_hold_a_slash_and_paths_escape_it(store: Store) -> None:
    env = cb.add_code(store, "Environment/ facilities")
    park = cb.add_code(store, "Parking", parent_id=env)
    code = cb.get_code(store, park)
    assert code.path == ("Environment/ facilities", "Parking")
    assert code.path_str == "Environment\\/ facilities/Parking"
    assert cb.split_path(code.path_str) == list(code.path)
    assert cb.join_path(code.path) == code.path_str
    assert cb.find_code(store, code.path_str).id == park
    assert cb.find_code(store, "Environment/ facilities/Parking").id == park  # unescaped but unambiguous
    assert cb.find_code(store, "environment/ facilities").id == env
    assert cb.ensure_path(store, "Environment\\/ facilities/Parking") == park
    assert cb.split_path("a\\\\b/c") == ["a\\b", "c"]
    with pytest.raises(InvalidInput):
        cb.split_path("a//b")
