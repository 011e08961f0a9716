"""Merging codes, splitting, moving subtrees, codebooks by mapping and copies of a project: nothing lost, undo exact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from thematic import merge
from thematic.cli import main
from thematic.codebook import add_code, ensure_path, find_code
from thematic.coding import apply_code, codings
from thematic.errors import InvalidInput, NotFound
from thematic.memos import add_memo, memos
from thematic.store import Store

from .conftest import dump
from .helpers import SMALL, make_corpus


def _triples(store: Store) -> set[tuple[int, str, str]]:
    """(segment, coder, code path) for every coding."""
    from thematic.codebook import list_codes

    paths = {c.id: c.path_str for c in list_codes(store)}
    return {(c.segment_id, c.coder, paths[c.code_id]) for c in codings(store)}


@pytest.fixture
def coded(store: Store) -> tuple[Store, dict[tuple[str, str, int], int]]:
    ids = make_corpus(store, SMALL)
    a = ensure_path(store, "Content/Circles")
    b = ensure_path(store, "Content/Models")
    room = ensure_path(store, "Environment/Room")
    segs = sorted(ids.values())
    for s in segs[:4]:
        apply_code(store, s, a, "Ann")
    for s in segs[2:6]:
        apply_code(store, s, b, "Ann")  # segments 2,3 have both a and b by Ann: they collapse on merge
    for s in segs[1:5]:
        apply_code(store, s, a, "Bob")
    apply_code(store, segs[5], room, "Bob")
    return store, ids


def test_merge_code_keeps_every_coding_and_undo_is_exact(coded) -> None:  # type: ignore[no-untyped-def]
    store, _ = coded
    before_dump = dump(store)
    expected = {(s, k, "Content/Models" if p == "Content/Circles" else p) for s, k, p in _triples(store)}
    rep = merge.merge_code(store, "Content/Circles", "Content/Models")
    assert _triples(store) == expected
    assert rep.lost == 0 and rep.details["collapsed"] == 2
    assert rep.before["codings"] - rep.after["codings"] == 2  # only duplicates collapsed
    assert rep.before["coded segment-coder pairs"] == rep.after["coded segment-coder pairs"]
    assert "codings lost: 0" in rep.summary()
    store.undo()
    assert dump(store) == before_dump


def test_split_code(coded) -> None:  # type: ignore[no-untyped-def]
    store, ids = coded
    segs = sorted(ids.values())
    before_dump = dump(store)
    rep = merge.split_code(store, "Content/Circles", "Compassion circles", [segs[1], segs[2]])
    new = find_code(store, "Content/Compassion circles")
    assert new is not None and rep.details["codings moved"] == 4  # Ann and Bob on two segments
    assert rep.before["codings"] == rep.after["codings"]
    moved = {(c.segment_id, c.coder) for c in codings(store, code_id=new.id)}
    assert moved == {(segs[1], "Ann"), (segs[2], "Ann"), (segs[1], "Bob"), (segs[2], "Bob")}
    store.undo()
    assert dump(store) == before_dump
    # Only one coder's codings.
    merge.split_code(store, "Content/Circles", "Split", [segs[1]], coders=["Bob"])
    new = find_code(store, "Content/Split")
    assert new is not None
    assert {(c.segment_id, c.coder) for c in codings(store, code_id=new.id)} == {(segs[1], "Bob")}
    with pytest.raises(InvalidInput, match="not coded"):
        merge.split_code(store, "Content/Circles", "Nope", [segs[5]])


def test_move_subtree(coded) -> None:  # type: ignore[no-untyped-def]
    store, _ = coded
    triples = {(s, k, p.split("/")[-1]) for s, k, p in _triples(store)}
    before_dump = dump(store)
    rep = merge.move_subtree(store, "Content", "Environment")
    assert find_code(store, "Environment/Content/Models") is not None
    assert {(s, k, p.split("/")[-1]) for s, k, p in _triples(store)} == triples
    assert rep.before == rep.after
    store.undo()
    assert dump(store) == before_dump


def test_merge_by_mapping_csv(coded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = coded
    path = tmp_path / "map.csv"
    path.write_text("from_path,to_path\nContent/Circles,Models/Three circles\nContent/Models,Models/Three circles\n"
                    "Environment/Room,Setting/Room\n", encoding="utf-8")
    renamed = {"Content/Circles": "Models/Three circles", "Content/Models": "Models/Three circles",
               "Environment/Room": "Setting/Room"}
    expected = {(s, k, renamed.get(p, p)) for s, k, p in _triples(store)}
    before_dump = dump(store)
    rep = merge.merge_by_mapping(store, path)
    assert _triples(store) == expected
    assert rep.details["codes merged"] == 3 and rep.lost == 0
    assert rep.before["coded segment-coder pairs"] == rep.after["coded segment-coder pairs"]
    assert len(store.audit_log(limit=50)) >= 1 and store.audit_log(limit=1)[0].action == "merge.mapping"
    store.undo()
    assert dump(store) == before_dump


def test_mapping_errors_change_nothing(coded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = coded
    before_dump = dump(store)
    with pytest.raises(InvalidInput, match="no code 'Nope/X'"):
        merge.merge_by_mapping(store, [("Nope/X", "A"), ("Content/Circles", "B")])
    with pytest.raises(InvalidInput, match="mapped elsewhere"):
        merge.merge_by_mapping(store, [("Content/Circles", "Content/Models"), ("Content/Models", "Other")])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nx,y\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="from_path and to_path"):
        merge.merge_by_mapping(store, bad)
    assert dump(store) == before_dump


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    """A project and a copy of it, coded separately afterwards."""
    main_path = tmp_path / "main.db"
    with Store(main_path) as s:
        make_corpus(s, SMALL)
        ensure_path(s, "Content/Models")
    other_path = tmp_path / "other.db"
    shutil.copy(main_path, other_path)
    return main_path, other_path


def test_merge_project_copy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    main_path, other_path = _copy(tmp_path)
    with Store(main_path) as s:
        seg = s.query("SELECT id, text FROM segments ORDER BY id")
        apply_code(s, seg[0][0], find_code(s, "Content/Models").id, "Ann")  # type: ignore[union-attr]
    with Store(other_path) as o:
        # Coded elsewhere: same coder name, another coder, a new code with a definition, memos, a quote.
        models = find_code(o, "Content/Models").id  # type: ignore[union-attr]
        from thematic.codebook import update_code

        update_code(o, models, definition="Psychological models taught on the day")  # ours has none
        new = add_code(o, "Heat", parent_id=ensure_path(o, "Environment"), definition="Room temperature")
        apply_code(o, seg[0][0], models, "Ann")  # same as main: must not duplicate
        apply_code(o, seg[2][0], new, "Ann")
        apply_code(o, seg[1][0], models, "Cat", origin="suggestion")
        add_memo(o, "Heat came up a lot", code_id=new, coder="Cat")
        add_memo(o, "Phase 1 notes", phase=1)
        from thematic.codebook import set_quotes

        set_quotes(o, new, [seg[2][0]])
        incoming = _triples(o)
    with Store(main_path) as s:
        mine = _triples(s)
        before_dump = dump(s)
        rep = merge.merge_project(s, other_path)
        assert _triples(s) == mine | incoming
        assert rep.details["incoming codings"] == 3 and rep.details["added"] == 2
        assert rep.details["already present"] == 1 and rep.details["memos added"] == 2
        assert rep.details["quotes added"] == 1
        heat = find_code(s, "Environment/Heat")
        assert heat is not None and heat.definition == "Room temperature"
        assert [m.body for m in memos(s, code_id=heat.id)] == ["Heat came up a lot"]
        ours = find_code(s, "Content/Models")
        assert ours is not None and ours.definition == ""  # ours kept, theirs as a memo
        assert [m.body for m in memos(s, code_id=ours.id)] == ["Definition: Psychological models taught on the day"]
        assert rep.details["their differing definitions kept as memos"] == 1
        assert [c.origin for c in codings(s, coder="Cat")] == ["suggestion"]
        # Merging the same copy again adds nothing.
        again = merge.merge_project(s, other_path)
        assert again.details["added"] == 0 and again.details["memos added"] == 0
        s.undo()  # the second merge changed nothing, so it left no step to undo
        assert dump(s) == before_dump
        # Renaming incoming coders keeps both sides apart.
        merge.merge_project(s, other_path, coder_prefix="site2:")
        assert {c.coder for c in codings(s)} == {"Ann", "site2:Ann", "site2:Cat"}


def test_merge_project_with_unmatched_segments_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    main_path, other_path = _copy(tmp_path)
    with Store(other_path) as o:
        with o.action("test", "edit a segment") as act:
            act.execute("UPDATE segments SET text = 'changed', start = 99 WHERE id = 1")
            act.execute("INSERT INTO forms (external_id) VALUES ('F99')")
        apply_code(o, 1, find_code(o, "Content/Models").id, "Ann")  # type: ignore[union-attr]
    with Store(main_path) as s:
        before_dump = dump(s)
        with pytest.raises(InvalidInput, match="1 coded segments of the other copy match no segment here"):
            merge.merge_project(s, other_path)
        assert dump(s) == before_dump
        with pytest.raises(NotFound):
            merge.merge_project(s, tmp_path / "missing.db")


def test_cli_merges(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    main_path, other_path = _copy(tmp_path)
    with Store(other_path) as o:
        x = ensure_path(o, "Old/X")
        apply_code(o, 1, x, "Bea")
    assert main(["merge-project", str(main_path), str(other_path), "--prefix", "b-"]) == 0
    assert "codings lost: 0" in capsys.readouterr().out
    mp = tmp_path / "m.csv"
    mp.write_text("from_path,to_path\nOld/X,Content/Models\n", encoding="utf-8")
    assert main(["merge-codes", str(main_path), "--mapping", str(mp)]) == 0
    assert main(["split-code", str(main_path), "Content/Models", "--new", "Part", "--segments", "1"]) == 0
    assert main(["merge-codes", str(main_path), "Content/Part", "Content/Models"]) == 0
    out = capsys.readouterr().out
    assert out.count("codings lost: 0") == 3
    with Store(main_path) as s:
        assert _triples(s) == {(1, "b-Bea", "Content/Models")}
    assert main(["merge-codes", str(main_path), "Content/Models"]) == 2


def test_merge_project_from_uploaded_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io

    main_path, other_path = _copy(tmp_path)
    with Store(other_path) as o:
        apply_code(o, 1, find_code(o, "Content/Models").id, "Bea")  # type: ignore[union-attr]
    upload = io.BytesIO(other_path.read_bytes())
    upload.name = "site 2 copy.db"
    with Store(main_path) as s:
        rep = merge.merge_project(s, upload)
        assert rep.details["added"] == 1
        assert s.audit_log(limit=1)[0].summary == "Merge project copy site 2 copy.db"
        with pytest.raises(InvalidInput, match="not an SQLite file"):
            merge.merge_project(s, b"hello")


def test_mapping_from_an_uploaded_csv(coded) -> None:  # type: ignore[no-untyped-def]
    import io

    store, _ = coded
    upload = io.BytesIO("\ufefffrom_path,to_path\nContent/Circles,Content/Models\n".encode("utf-8"))
    rep = merge.merge_by_mapping(store, upload)
    assert rep.details["codes merged"] == 1 and find_code(store, "Content/Circles") is None
