"""Undo per coder: a coder's undo/redo reverts only that coder's own changes, and never overwrites a later change
someone else made to the same data (it is refused, changing nothing). Large imports are undone in short chunks
that a stopped process can finish later."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import thematic.store as store_module
from thematic.cli import main
from thematic.codebook import add_code, ensure_path, update_code
from thematic.coding import apply_code, codings, ensure_coder, remove_coding
from thematic.errors import NothingToUndo
from thematic.ingest import ingest_file
from thematic.store import Store, UndoConflict

from .conftest import dump
from .helpers import make_corpus

REPO = Path(__file__).resolve().parents[1]


def _corpus(store: Store, n: int = 6) -> list[int]:
    ids = make_corpus(store, [(f"F{i}", {}, {"Q1": [f"form {i} part {j}" for j in range(2)]}) for i in range(n)],
                      questions=("Q1",))
    for coder in ("anna", "ben", "cara"):  # as the app does when a coder first opens the project
        ensure_coder(store, coder, actor="lead")
    return sorted(ids.values())


def _mine(store: Store, coder: str) -> set[tuple[int, int]]:
    return {(c.segment_id, c.code_id) for c in codings(store, coder=coder)}


def test_undo_with_a_coder_leaves_the_other_coders_newer_work(store: Store) -> None:
    segs = _corpus(store)
    code = ensure_path(store, "T/Kindness")
    apply_code(store, segs[0], code, "anna")
    apply_code(store, segs[1], code, "anna")
    apply_code(store, segs[2], code, "ben")  # newer, by someone else
    undone = store.undo(coder="anna")
    assert undone.actor == "anna" and undone.undone
    assert _mine(store, "anna") == {(segs[0], code)}
    assert _mine(store, "ben") == {(segs[2], code)}
    # without a coder: the newest change of anyone, as before
    assert store.undo().actor == "ben"
    assert _mine(store, "ben") == set()
    assert store.undoable(coder="ben") is None
    with pytest.raises(NothingToUndo, match="nothing to undo by ben"):
        store.undo(coder="ben")


def test_redo_of_my_undo_is_not_blocked_by_someone_elses_newer_change(store: Store) -> None:
    segs = _corpus(store)
    code = ensure_path(store, "T/Kindness")
    apply_code(store, segs[0], code, "anna")
    store.undo(coder="anna")
    apply_code(store, segs[1], code, "ben")  # a change after anna's undo, to other rows
    assert store.redoable() is None  # project-wide redo is blocked by any newer change, as before
    assert store.redoable(coder="anna") is not None
    store.redo(coder="anna")
    assert _mine(store, "anna") == {(segs[0], code)} and _mine(store, "ben") == {(segs[1], code)}
    # anna's own newer change does block her redo
    store.undo(coder="anna")
    apply_code(store, segs[3], code, "anna")
    with pytest.raises(NothingToUndo, match="nothing to redo by anna"):
        store.redo(coder="anna")


def test_undo_that_would_overwrite_a_later_change_by_someone_else_is_refused(store: Store) -> None:
    code = add_code(store, "Waiting", actor="anna")
    update_code(store, code, name="Waiting times", actor="anna")
    update_code(store, code, name="Waiting for care", actor="ben")  # ben renamed the same code after anna
    before = dump(store)
    with pytest.raises(UndoConflict) as err:
        store.undo(coder="anna")
    message = str(err.value)
    assert "\n" not in message
    assert "by ben" in message and "Rename 'Waiting times' to 'Waiting for care'" in message
    assert dump(store) == before  # nothing changed, not even an audit event
    # once ben's change is undone, anna's undo goes through
    store.undo(coder="ben")
    store.undo(coder="anna")
    assert store.scalar("SELECT name FROM codes WHERE id = ?", (code,)) == "Waiting"


def test_undo_whose_cascade_would_delete_someone_elses_coding_is_refused(store: Store) -> None:
    segs = _corpus(store)
    code = add_code(store, "Environment", actor="anna")
    apply_code(store, segs[0], code, "ben")  # ben uses anna's new code
    before = dump(store)
    with pytest.raises(UndoConflict, match="by ben"):
        store.undo(coder="anna")  # deleting the code would delete ben's coding with it
    assert dump(store) == before


def test_redo_that_would_overwrite_a_later_change_is_refused(store: Store) -> None:
    code = add_code(store, "Staff", actor="lead")
    update_code(store, code, name="Staff attitude", actor="anna")
    store.undo(coder="anna")
    update_code(store, code, name="Staff manner", actor="ben")
    before = dump(store)
    with pytest.raises(UndoConflict, match="by ben"):
        store.redo(coder="anna")
    assert dump(store) == before


def _snapshot(store: Store, coders: list[str]) -> tuple[dict[str, set[tuple[int, int]]], dict[int, str]]:
    return ({c: _mine(store, c) for c in coders},
            {r[0]: r[1] for r in store.query("SELECT id, name FROM codes")})


def test_three_coders_interleaved_at_random_never_undo_each_other(store: Store) -> None:
    """Three coders code, uncode, rename shared codes, undo and redo in a random interleaving. Every undo or redo
    with a coder changes only that coder's own codings, and a code's name only when the change it reverts is that
    coder's rename of that code; one that would revert someone else's change is refused and changes nothing."""
    segs = _corpus(store, 8)
    codes = [ensure_path(store, f"T/C{i}") for i in range(3)]
    coders = ["anna", "ben", "cara"]
    rnd = random.Random(584)
    done = refused = 0
    for step in range(600):
        who = rnd.choice(coders)
        r = rnd.random()
        if r < 0.45:
            apply_code(store, rnd.choice(segs), rnd.choice(codes), who)
        elif r < 0.6:
            mine = sorted(_mine(store, who))
            if mine:
                remove_coding(store, *rnd.choice(mine), who)
        elif r < 0.7:
            update_code(store, rnd.choice(codes), name=f"C by {who} {step}", actor=who)
        else:
            undo = r < 0.88
            before = dump(store)
            others_before, names_before = _snapshot(store, coders)
            try:
                event = store.undo(coder=who) if undo else store.redo(coder=who)
            except NothingToUndo:
                assert dump(store) == before
                continue
            except UndoConflict as exc:
                assert "\n" not in str(exc)
                assert dump(store) == before
                refused += 1
                continue
            done += 1
            assert event.actor == who  # the change reverted (or reapplied) is the coder's own
            others_after, names_after = _snapshot(store, coders)
            for other in coders:
                if other != who:
                    assert others_after[other] == others_before[other], (step, who, other, event.summary)
            for cid, name in names_after.items():
                if name != names_before[cid]:
                    assert event.action == "code.update" and event.details["code_id"] == cid, (step, event)
    assert done > 50 and refused > 0


def _forms_csv(path: Path, n: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Team", "What was good?", "What could be better?"])
        for i in range(n):
            w.writerow([f"F{i}", f"T{i % 3}", f"the breathing exercise number {i} helped", f"cooler room {i} please"])
    return path


def test_import_is_logged_as_rowid_ranges_and_undone_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "UNDO_CHUNK_ROWS", 50)
    with Store(tmp_path / "p.db") as s:
        start = dump(s)
        report = ingest_file(s, _forms_csv(tmp_path / "f.csv", 120), unit="response")
        # one undo entry per table written (forms, form_meta, answers, segments) plus the source and 2 questions,
        # not one per row
        assert s.scalar("SELECT count(*) FROM undo_log WHERE event_id = ?", (report.event_id,)) == 7
        imported = dump(s)
        gaps: list[bool] = []

        def between_chunks(_seconds: float) -> None:
            # the write lock is free between two chunks: another connection writes without waiting at all
            other = Store.open(s.path)
            other.conn.execute("PRAGMA busy_timeout = 0")
            other.set_setting("probe", str(len(gaps)), actor="ben")
            other.undo(coder="ben")  # leave the project as it was
            other.close()
            gaps.append(True)

        monkeypatch.setattr(store_module.time, "sleep", between_chunks)
        s.undo()
        assert len(gaps) >= 5  # 120 forms, 120 metadata rows, 240 answers, 240 segments in chunks of 50
        after = dump(s)
        for table in ("forms", "form_meta", "answers", "segments", "sources", "questions"):
            assert after[table] == start[table]
        assert s.pending_undo() is None
        s.redo(coder="analyst")  # ben's probes came after the undo: a project-wide redo is blocked, the importer's is not
        assert dump(s)["segments"] == imported["segments"] and dump(s)["forms"] == imported["forms"]


def test_a_chunked_undo_refuses_when_someone_coded_the_imported_segments(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "UNDO_CHUNK_ROWS", 50)
    with Store(tmp_path / "p.db") as s:
        ingest_file(s, _forms_csv(tmp_path / "f.csv", 60), unit="response", actor="anna")
        seg = s.scalar("SELECT max(id) FROM segments")
        apply_code(s, seg, ensure_path(s, "T/Heat", actor="ben"), "ben")
        before = dump(s)
        with pytest.raises(UndoConflict, match="by ben"):
            s.undo(coder="anna")
        assert dump(s) == before and s.pending_undo() is None


_KILL = """
import os, sys
import thematic.store as st
st.UNDO_CHUNK_ROWS = 40
calls = []
original = st.Store._chunk
def chunk(self, event_id):
    done = original(self, event_id)
    calls.append(done)
    if len(calls) == 3:
        os._exit(9)  # killed between two committed chunks
    return done
st.Store._chunk = chunk
s = st.Store.open(sys.argv[1])
s.undo()
"""


def test_a_kill_between_chunks_leaves_a_consistent_project_and_the_undo_is_finished_later(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        s.set_setting("title", "kill test")
        start = dump(s)
        ingest_file(s, _forms_csv(tmp_path / "f.csv", 100), unit="response")
    r = subprocess.run([sys.executable, "-c", _KILL, str(db)], env={**os.environ, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 9, r.stderr
    with Store.open(db) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        pending = s.pending_undo()
        assert pending is not None and pending.action == "undo"
        part = dump(s)
        assert 0 < len(part["segments"]) < 200  # part of the import is gone, part still there
        assert s.undoable() is not None and s.undoable().action == "project.setting"  # the import is not offered again
    assert main(["undo", str(db)]) == 0  # the next undo finishes the one under way, and only that
    with Store.open(db) as s:
        assert s.pending_undo() is None
        after = dump(s)
        assert {t: after[t] for t in ("forms", "form_meta", "answers", "segments", "sources", "questions", "project")} \
            == {t: start[t] for t in ("forms", "form_meta", "answers", "segments", "sources", "questions", "project")}


def test_cli_undo_and_redo_with_a_coder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        segs = _corpus(s)
        code = ensure_path(s, "T/Kindness")
        apply_code(s, segs[0], code, "anna")
        apply_code(s, segs[1], code, "ben")
    capsys.readouterr()
    assert main(["undo", str(db), "--coder", "anna"]) == 0
    assert "undone: Code segment" in capsys.readouterr().out
    with Store.open(db) as s:
        assert _mine(s, "anna") == set() and _mine(s, "ben") == {(segs[1], code)}
    assert main(["undo", str(db), "--coder", "anna"]) == 2
    assert "nothing to undo by anna" in capsys.readouterr().err
    assert main(["redo", str(db), "--coder", "anna"]) == 0
    with Store.open(db) as s:
        assert _mine(s, "anna") == {(segs[0], code)}


def test_undo_that_needs_data_someone_else_deleted_since_is_refused(store: Store) -> None:
    from thematic.codebook import delete_code

    segs = _corpus(store)
    code = add_code(store, "Parking", actor="lead")
    apply_code(store, segs[0], code, "anna")
    remove_coding(store, segs[0], code, "anna")
    delete_code(store, code, actor="ben")  # the code anna's coding would need is gone
    before = dump(store)
    with pytest.raises(UndoConflict) as err:
        store.undo(coder="anna")
    assert "\n" not in str(err.value) and "Uncode segment" in str(err.value)
    assert dump(store) == before
