"""Operations on candidate themes: each one audited action that ``store.undo()`` reverts exactly; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import dump
from tests.test_cluster import corpus
from thematic import cluster as cl
from thematic import embed
from thematic.cli import main
from thematic.codebook import add_code, get_code
from thematic.coding import codings
from thematic.embed import HashingEmbedder
from thematic.errors import Conflict, InvalidInput
from thematic.store import Store

EMB = HashingEmbedder(dim=128)


@pytest.fixture
def run(store: Store) -> cl.Run:
    corpus(store, 40)
    return cl.propose(store, seed=5, embedder=EMB, params={"n_candidates": 6, "n_groups": 2}, actor="ana")


def leaves(store: Store, run_id: int) -> list[cl.Candidate]:
    return [c for c in cl.candidates(store, run_id) if c.level == 1 and not c.unclustered]


def undo_restores(store: Store, before: dict, action: str) -> None:
    assert store.audit_log(limit=1)[0].action == action
    store.undo()
    assert dump(store) == before


def test_propose_is_one_undoable_event(store: Store) -> None:
    corpus(store, 10)
    before = dump(store)
    run = cl.propose(store, embedder=EMB, actor="ana")
    ev = store.audit_log(limit=1)[0]
    assert ev.action == "cluster.propose" and ev.actor == "ana"
    assert ev.details["model_id"] == EMB.model_id and ev.details["seed"] == 42 and ev.details["run_id"] == run.id
    assert ev.details["params"]["n_candidates_used"] >= 1
    undo_restores(store, before, "cluster.propose")
    assert cl.runs(store) == []


def test_merge(store: Store, run: cl.Run) -> None:
    a, b, c = leaves(store, run.id)[:3]
    seg_a, seg_b = cl.segment_ids(store, a.id), cl.segment_ids(store, b.id)
    before = dump(store)
    target = cl.merge_candidates(store, [a.id, b.id], actor="ana")
    after = {x.id: x for x in leaves(store, run.id)}
    assert target == a.id and b.id not in after and after[a.id].size == a.size + b.size
    assert cl.segment_ids(store, a.id) == sorted(seg_a + seg_b)
    assert after[a.id].keywords
    assert store.audit_log(limit=1)[0].details["candidate_ids"] == [a.id, b.id]
    undo_restores(store, before, "cluster.merge")
    cl.merge_candidates(store, [a.id, c.id], label="Care and parking")
    assert cl.get_candidate(store, a.id).label == "Care and parking"
    with pytest.raises(Conflict):
        cl.merge_candidates(store, [a.id, c.id])  # c is merged already


def test_split(store: Store, run: cl.Run) -> None:
    big = max(leaves(store, run.id), key=lambda x: x.size)
    members = set(cl.segment_ids(store, big.id))
    before = dump(store)
    ids = cl.split_candidate(store, big.id, 2, embedder=EMB)
    assert ids[0] == big.id and len(ids) == 2
    parts = [set(cl.segment_ids(store, i)) for i in ids]
    assert parts[0] and parts[1] and parts[0] | parts[1] == members and not parts[0] & parts[1]
    new = cl.get_candidate(store, ids[1])
    assert new.parent_id == big.parent_id and new.status == "open" and new.label
    undo_restores(store, before, "cluster.split")
    with pytest.raises(InvalidInput):
        cl.split_candidate(store, big.id, 1)


def test_split_uses_cached_vectors_without_the_embedder(store: Store, run: cl.Run) -> None:
    big = max(leaves(store, run.id), key=lambda x: x.size)
    assert len(cl.split_candidate(store, big.id, 2)) == 2  # the run's model is not MiniLM: cache only


def test_move_segments(store: Store, run: cl.Run) -> None:
    a, b = leaves(store, run.id)[:2]
    seg = cl.segment_ids(store, b.id)[:2]
    before = dump(store)
    assert cl.move_segments(store, seg, a.id, actor="ana") == 2
    assert set(seg) <= set(cl.segment_ids(store, a.id)) and not set(seg) & set(cl.segment_ids(store, b.id))
    assert cl.get_candidate(store, a.id).label == a.label  # labels stay
    undo_restores(store, before, "cluster.move")
    everything = cl.segment_ids(store, b.id)
    cl.move_segments(store, everything, a.id)
    assert cl.get_candidate(store, b.id).status == "merged"  # emptied candidates close


def test_rename_and_reject(store: Store, run: cl.Run) -> None:
    a = leaves(store, run.id)[0]
    group = next(c for c in cl.candidates(store, run.id) if c.level == 0)
    before = dump(store)
    cl.rename_candidate(store, a.id, "  Kind   nurses ")
    assert cl.get_candidate(store, a.id).label == "Kind nurses"
    undo_restores(store, before, "cluster.rename")
    cl.rename_candidate(store, group.id, "Care")
    assert cl.get_candidate(store, group.id).label == "Care"
    before = dump(store)
    cl.reject_candidate(store, a.id)
    assert a.id not in {c.id for c in cl.candidates(store, run.id)}
    assert cl.get_candidate(store, a.id).status == "rejected"
    undo_restores(store, before, "cluster.reject")
    with pytest.raises(InvalidInput):
        cl.rename_candidate(store, a.id, "   ")


def test_accept_candidate_codes_its_segments(store: Store, run: cl.Run) -> None:
    a = leaves(store, run.id)[0]
    parent = add_code(store, "Experience")
    before = dump(store)
    code_id = cl.accept_candidate(store, a.id, coder="ana", parent_code_id=parent, name="Caring nurses")
    code = get_code(store, code_id)
    assert code.name == "Caring nurses" and code.parent_id == parent
    got = codings(store, code_id=code_id)
    assert sorted(c.segment_id for c in got) == cl.segment_ids(store, a.id)
    assert {c.origin for c in got} == {"cluster"} and {c.coder for c in got} == {"ana"}
    cand = cl.get_candidate(store, a.id)
    assert cand.status == "accepted" and cand.code_id == code_id
    assert len(store.audit_log(limit=5)) and store.audit_log(limit=1)[0].action == "cluster.accept"
    undo_restores(store, before, "cluster.accept")
    cl.accept_candidate(store, a.id, coder="ana")
    with pytest.raises(Conflict):
        cl.accept_candidate(store, a.id, coder="ana")


def test_accept_group_makes_a_theme_with_subthemes(store: Store, run: cl.Run) -> None:
    group = next(c for c in cl.candidates(store, run.id) if c.level == 0)
    before = dump(store)
    theme = cl.accept_candidate(store, group.id, coder="bo", name="Care")
    kids = store.query("SELECT id, name FROM codes WHERE parent_id = ?", (theme,))
    assert len(kids) == len(group.children)
    n_coded = store.scalar("SELECT count(*) FROM codings WHERE origin = 'cluster'")
    assert n_coded == group.size
    undo_restores(store, before, "cluster.accept")


def test_cli_cluster_writes_the_json_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = tmp_path / "p.db"
    with Store(path) as s:
        corpus(s, 30)
    monkeypatch.setattr(embed, "default_embedder", lambda **_: HashingEmbedder(dim=128))
    out = tmp_path / "candidates.json"
    assert main(["cluster", str(path), "--question", "2", "--seed", "3", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "size" in table and "label" in table
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {"candidates", "assignments"}
    assert all(set(c) == {"id", "label", "keywords", "parent", "segment_ids"} for c in doc["candidates"])
    assert all(set(a) == {"segment_id", "form_id", "question", "candidate_id"} for a in doc["assignments"])
    assert len(doc["assignments"]) == 30 and {a["question"] for a in doc["assignments"]} == {"Q2"}
    assert {a["form_id"] for a in doc["assignments"]} == {f"R{i:04d}" for i in range(30)}
    ids = {c["id"] for c in doc["candidates"]}
    assert all(c["parent"] is None or c["parent"] in ids for c in doc["candidates"])
    leaf_segments = [s for c in doc["candidates"] if c["parent"] is not None or not any(
        x["parent"] == c["id"] for x in doc["candidates"]) for s in c["segment_ids"]]
    assert sorted(leaf_segments) == sorted(a["segment_id"] for a in doc["assignments"])
    assert main(["cluster", str(path), "--question", "nope"]) == 2


# ---------------------------------------------------------------------- accept with review, provenance


def test_members_by_fit_lists_every_segment_best_first(store: Store, run: cl.Run) -> None:
    a = leaves(store, run.id)[0]
    got = cl.members_by_fit(store, a.id)
    assert sorted(s for s, _, _ in got) == cl.segment_ids(store, a.id)
    fits = [f for _, _, f in got]
    assert fits == sorted(fits, reverse=True) and all(-1.0 <= f <= 1.0001 for f in fits)
    texts = {int(r[0]): r[1] for r in store.query("SELECT id, text FROM segments")}
    assert all(texts[s] == t for s, t, _ in got)
    # the fit is the cosine to the candidate's centroid, computed here from the vectors themselves
    vecs = EMB.encode([t for _, t, _ in got])
    centre = vecs.mean(axis=0)
    centre /= float((centre**2).sum()) ** 0.5
    assert [round(float(v @ centre), 4) for v in vecs] == [round(f, 4) for f in fits]
    group = next(c for c in cl.candidates(store, run.id) if c.level == 0)
    assert sorted(s for s, _, _ in cl.members_by_fit(store, group.id)) == cl.segment_ids(store, group.id)


def test_accept_leaves_out_reviewed_segments_and_records_how_many(store: Store, run: cl.Run) -> None:
    a = leaves(store, run.id)[0]
    worst = [s for s, _, _ in cl.members_by_fit(store, a.id)][-2:]
    before = dump(store)
    code_id = cl.accept_candidate(store, a.id, coder="ana", exclude=worst)
    coded = sorted(c.segment_id for c in codings(store, code_id=code_id))
    assert coded == sorted(set(cl.segment_ids(store, a.id)) - set(worst))
    ev = store.audit_log(limit=1)[0]
    assert ev.action == "cluster.accept" and ev.details["excluded"] == 2 and "leaving out 2" in ev.summary
    assert cl.provenance(store, code_id)["excluded"] == 2
    undo_restores(store, before, "cluster.accept")


def test_accept_refuses_to_leave_out_a_segment_of_another_candidate(store: Store, run: cl.Run) -> None:
    a, b = leaves(store, run.id)[:2]
    before = dump(store)
    with pytest.raises(InvalidInput, match="not in candidate"):
        cl.accept_candidate(store, a.id, coder="ana", exclude=[cl.segment_ids(store, b.id)[0]])
    with pytest.raises(InvalidInput, match="reject it"):
        cl.accept_candidate(store, a.id, coder="ana", exclude=cl.segment_ids(store, a.id))
    assert dump(store) == before


def test_accepting_never_writes_a_definition_and_keeps_provenance_apart(store: Store, run: cl.Run) -> None:
    group = next(c for c in cl.candidates(store, run.id) if c.level == 0)
    theme = cl.accept_candidate(store, group.id, coder="bo")
    codes = store.query("SELECT id, definition FROM codes")
    assert codes and {r["definition"] for r in codes} == {""}
    prov = cl.provenance(store, theme)
    assert prov is not None and prov["run_id"] == run.id and prov["candidate_id"] == group.id
    assert prov["keywords"] == group.keywords and prov["machine_label"] == group.label
    assert prov["model_id"] == EMB.model_id and prov["seed"] == 5 and prov["kind"] == "group"
    kids = [int(r[0]) for r in store.query("SELECT id FROM codes WHERE parent_id = ?", (theme,))]
    assert kids and all(cl.provenance(store, k)["kind"] == "candidate" for k in kids)
    assert cl.provenance(store, add_code(store, "Mine")) is None


def test_migration_moves_the_old_machine_definition_out(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    machine = "Accepted candidate theme from clustering run 1 (seed 42). Keywords: staff, kind, nurse."
    edited = machine + " The analyst added this."
    with Store(path) as s:
        corpus(s, 20)
        run = cl.propose(s, seed=5, embedder=EMB, params={"n_candidates": 3, "n_groups": 0})
        cand = leaves(s, run.id)[0]
        # an old project: no provenance table yet, the machine sentence written as the definition
        s.conn.execute("DROP TABLE code_provenance")
        s.conn.execute("DELETE FROM migrations WHERE version = 11")
        now_ = "2026-01-01T00:00:00"
        s.conn.execute("INSERT INTO codes (id, name, definition, created_at) VALUES (50, 'A', ?, ?)", (machine, now_))
        s.conn.execute("INSERT INTO codes (id, name, definition, created_at) VALUES (51, 'B', ?, ?)", (edited, now_))
        s.conn.execute("INSERT INTO codes (id, name, definition, created_at) VALUES (52, 'C', 'Kind staff', ?)", (now_,))
        s.conn.execute("UPDATE cluster_candidates SET code_id = 50, status = 'accepted' WHERE id = ?", (cand.id,))
    with Store(path) as s:
        defs = {int(r[0]): r[1] for r in s.query("SELECT id, definition FROM codes")}
        assert defs == {50: "", 51: edited, 52: "Kind staff"}
        prov = cl.provenance(s, 50)
        assert prov is not None and prov["run_id"] == run.id and prov["candidate_id"] == cand.id
        assert prov["keywords"] == cand.keywords and prov["migrated_definition"] == machine
        assert cl.provenance(s, 51) is None and cl.provenance(s, 52) is None


def test_cli_cluster_says_how_k_was_chosen_and_draws_the_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys) -> None:
    path = tmp_path / "p.db"
    with Store(path) as s:
        corpus(s, 30)
    monkeypatch.setattr(embed, "default_embedder", lambda **_: HashingEmbedder(dim=128))
    staff = tmp_path / "staff.txt"
    staff.write_text("Zorbet Quill\n", encoding="utf-8")
    picture = tmp_path / "map.svg"
    assert main(["cluster", str(path), "--staff-names", str(staff), "--map", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "chosen by silhouette" in out and "seed 42" in out
    assert picture.read_bytes().lstrip().startswith(b"<?xml")
    before = path.read_bytes()
    assert main(["cluster", str(path), "--map", str(tmp_path / "map.gif")]) == 2
    assert main(["cluster", str(path), "--staff-names", str(tmp_path / "none.txt")]) == 2
    assert main(["cluster", str(path), "--candidates", "0"]) == 2
    assert path.read_bytes() == before
