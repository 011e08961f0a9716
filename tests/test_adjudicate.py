"""The disagreement queue, decisions written as consensus codings, undo, CSV export and rounds."""

from __future__ import annotations

import csv
import io

import pytest

from thematic import adjudicate as adj
from thematic.cli import main
from thematic.codebook import ensure_path, find_code
from thematic.coding import apply_code, codings
from thematic.errors import Conflict, InvalidInput, NotFound
from thematic.store import Store

from .conftest import dump
from .helpers import make_corpus


@pytest.fixture
def two(store: Store) -> tuple[Store, dict[str, int], list[int]]:
    ids = make_corpus(store, [(f"F{i}", {}, {"Q1": [f"f{i} a", f"f{i} b"]}) for i in range(4)], questions=("Q1",))
    segs = sorted(ids.values())
    codes = {"X": ensure_path(store, "T/X"), "Y": ensure_path(store, "T/Y")}
    # A: X on 0,1,2 ; Y on 3        B: X on 0,1,3 ; Y on 3,4
    for s in (0, 1, 2):
        apply_code(store, segs[s], codes["X"], "A")
    apply_code(store, segs[3], codes["Y"], "A")
    for s in (0, 1, 3):
        apply_code(store, segs[s], codes["X"], "B")
    for s in (3, 4):
        apply_code(store, segs[s], codes["Y"], "B")
    return store, codes, segs


def test_queue_lists_each_disagreement_once(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    q = adj.disagreements(store, "A", "B")
    got = {(d.segment_id, d.code_path, d.a_applied, d.b_applied) for d in q}
    assert got == {
        (segs[2], "T/X", True, False),
        (segs[3], "T/X", False, True),
        (segs[4], "T/Y", False, True),
    }
    assert [d.code_path for d in adj.disagreements(store, "A", "B", code="T/Y")] == ["T/Y"]
    with pytest.raises(NotFound):
        adj.disagreements(store, "A", "Nobody")


def test_decisions_write_consensus_and_undo_restores_exactly(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    n_agreed = adj.accept_agreements(store, "A", "B")
    assert n_agreed == 3  # X on 0 and 1, Y on 3
    before = dump(store)
    d = adj.decide(store, segs[2], "T/X", "A", "B", "keep_a", "A is right: the text names the circles")
    assert d.decision == "keep_a" and d.round == 1 and d.coders == ("A", "B")
    cons = {(c.segment_id, c.code_id) for c in codings(store, coder="consensus")}
    assert (segs[2], codes["X"]) in cons
    assert all(c.origin == "adjudication" for c in codings(store, coder="consensus"))
    # Decided items leave the queue (still listed with include_decided).
    assert (segs[2], codes["X"]) not in {(x.segment_id, x.code_id) for x in adj.disagreements(store, "A", "B")}
    assert any(x.decision == "keep_a" for x in adj.disagreements(store, "A", "B", include_decided=True))
    store.undo()
    assert dump(store) == before
    # Human codings are never touched by adjudication.
    assert len(codings(store, coder="A")) == 4 and len(codings(store, coder="B")) == 5


def test_each_decision_kind(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    adj.decide(store, segs[3], codes["X"], "A", "B", "keep_a", "A left X off")  # A did not apply X -> absent
    adj.decide(store, segs[4], "T/Y", "A", "B", "both", "keep it")
    adj.decide(store, segs[2], "T/X", "A", "B", "new_code", "really about Z", new_code="T/Z")
    z = find_code(store, "T/Z")
    assert z is not None
    cons = {(c.segment_id, c.code_id) for c in codings(store, coder="consensus")}
    assert cons == {(segs[4], codes["Y"]), (segs[2], z.id)}
    # Re-deciding replaces the earlier decision and its outcome.
    adj.decide(store, segs[2], "T/X", "A", "B", "keep_b", "on reflection, B")
    cons = {(c.segment_id, c.code_id) for c in codings(store, coder="consensus")}
    assert cons == {(segs[4], codes["Y"])}
    assert [d.decision for d in adj.decisions(store) if d.segment_id == segs[2]] == ["keep_b"]
    adj.decide(store, segs[4], "T/Y", "A", "B", "neither", "not about the room")
    assert codings(store, coder="consensus") == []


def test_decision_errors(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    with pytest.raises(InvalidInput, match="rationale"):
        adj.decide(store, segs[2], "T/X", "A", "B", "keep_a", "  ")
    with pytest.raises(Conflict, match="agree"):
        adj.decide(store, segs[0], "T/X", "A", "B", "keep_a", "x")
    with pytest.raises(InvalidInput, match="new_code"):
        adj.decide(store, segs[2], "T/X", "A", "B", "new_code", "x")
    with pytest.raises(InvalidInput, match="decision must be"):
        adj.decide(store, segs[2], "T/X", "A", "B", "maybe", "x")
    with pytest.raises(InvalidInput, match="consensus"):
        adj.decide(store, segs[2], "T/X", "A", "B", "keep_a", "x", consensus="A")
    assert store.query("SELECT * FROM adjudications") == []


def test_consensus_name_is_configurable(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    store.set_setting("consensus_coder", "agreed")
    adj.decide(store, segs[4], "T/Y", "A", "B", "both", "fits", actor="Lead")
    assert [c.coder for c in codings(store, code_id=codes["Y"]) if c.origin == "adjudication"] == ["agreed"]
    assert adj.decisions(store)[0].adjudicator == "Lead"


def test_export_decisions_csv(two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    adj.decide(store, segs[4], "T/Y", "A", "B", "both", "mentions the heat, so, yes")
    buf = io.StringIO()
    assert adj.export_decisions_csv(store, buf) == 1
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert rows[0]["rationale"] == "mentions the heat, so, yes"
    assert rows[0]["form_id"] == "F2" and rows[0]["code_path"] == "T/Y" and rows[0]["coder_b"] == "B"
    path = tmp_path / "d.csv"
    adj.export_decisions_csv(store, path)
    assert path.read_text(encoding="utf-8-sig").splitlines()[0].startswith("round,form_id")


def test_rounds_keep_agreement_before_and_after(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    r1 = adj.record_round(store, ["A", "B"], n_boot=50)
    assert (r1.round, r1.stage) == (1, "before")
    adj.accept_agreements(store, "A", "B")
    for d in adj.disagreements(store, "A", "B"):
        adj.decide(store, d.segment_id, d.code_id, "A", "B", "keep_b", "B's reading")
    assert adj.disagreements(store, "A", "B") == []
    # After adjudication, B equals the consensus exactly.
    r1b = adj.record_round(store, ["B", "consensus"], stage="after", n_boot=50)
    assert (r1b.round, r1b.stage) == (1, "after")
    assert r1b.overall["kappa"]["value"] == 1.0
    assert r1.overall["kappa"]["value"] < 1.0
    r2 = adj.record_round(store, ["A", "B"], note="second round")
    assert r2.round == 2 and adj.current_round(store) == 2
    assert [(r.round, r.stage) for r in adj.rounds(store)] == [(1, "before"), (1, "after"), (2, "before")]
    # The round-1 decisions no longer hide items from the round-2 queue.
    assert len(adj.disagreements(store, "A", "B")) == 3


def test_cli_queue_adjudicate_export(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.db"
    with Store(path) as s:
        ids = make_corpus(s, [("F1", {}, {"Q1": ["a", "b"]})], questions=("Q1",))
        x = ensure_path(s, "T/X")
        apply_code(s, ids[("F1", "Q1", 0)], x, "A")
        apply_code(s, ids[("F1", "Q1", 1)], x, "B")
        seg = ids[("F1", "Q1", 0)]
    assert main(["disagreements", str(path), "--coders", "A,B"]) == 0
    assert "2 disagreements" in capsys.readouterr().out
    assert main(["adjudicate", str(path), "--coders", "A,B", "--segment", str(seg), "--code", "T/X",
                 "--decision", "keep_a", "--rationale", "clear"]) == 0
    assert "keep_a" in capsys.readouterr().out
    assert main(["adjudications", str(path), "--csv", str(tmp_path / "d.csv")]) == 0
    assert "wrote 1 decisions" in capsys.readouterr().out
    assert main(["adjudications", str(path)]) == 0
    assert "#1" in capsys.readouterr().out
    assert main(["adjudications", str(path), "--revoke", "1"]) == 0
    assert "withdrew decision 1" in capsys.readouterr().out
    assert main(["record-round", str(path), "--coders", "A,B", "--boot", "20"]) == 0
    assert main(["rounds", str(path)]) == 0
    assert "round 1 before" in capsys.readouterr().out
    assert main(["adjudicate", str(path), "--coders", "A,B", "--segment", str(seg), "--code", "T/X",
                 "--decision", "keep_a", "--rationale", ""]) == 2


def test_round_sentence_for_the_report(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    r = adj.record_round(store, ["A", "B"], n_boot=100)
    text = r.sentence()
    assert text.startswith("Round 1 (before adjudication): A and B, 5 coded segments: Cohen's kappa ")
    assert "Krippendorff's alpha" in text and "% agreement" in text
    adj.accept_agreements(store, "A", "B")
    for d in adj.disagreements(store, "A", "B"):
        adj.decide(store, d.segment_id, d.code_id, "A", "B", "keep_a", "A")
    after = adj.record_round(store, ["A", "consensus"], stage="after", n_boot=100)
    assert "Round 1 (after adjudication): A and consensus" in after.sentence()
    assert "kappa 1.00" in after.sentence()


def test_revoke_an_earlier_decision(two) -> None:  # type: ignore[no-untyped-def]
    store, codes, segs = two
    before = dump(store)
    first = adj.decide(store, segs[2], "T/X", "A", "B", "new_code", "about Z", new_code="T/Z")
    after_first = dump(store)
    adj.decide(store, segs[4], "T/Y", "A", "B", "both", "yes")
    adj.revoke(store, first.id)
    # The first item is back in the queue, its consensus codings gone; the later decision stands.
    assert (segs[2], codes["X"]) in {(d.segment_id, d.code_id) for d in adj.disagreements(store, "A", "B")}
    assert {(c.segment_id, c.code_id) for c in codings(store, coder="consensus")} == {(segs[4], codes["Y"])}
    store.undo()
    assert {(c.segment_id, c.code_id) for c in codings(store, coder="consensus")} == {
        (segs[4], codes["Y"]), (segs[2], find_code(store, "T/Z").id)}  # type: ignore[union-attr]
    store.undo()
    assert dump(store) == after_first
    store.undo()
    assert dump(store) == before
    with pytest.raises(NotFound):
        adj.revoke(store, 999)
