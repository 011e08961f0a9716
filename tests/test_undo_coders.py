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
s.undo(coder="analyst")
"""


def test_a_kill_between_chunks_leaves_a_consistent_project_and_the_undo_is_finished_later(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        s.set_setting("title", "kill test")
        start = dump(s)
        ingest_file(s, _forms_csv(tmp_path / "f.csv", 100), unit="response")
        s.set_setting("ben's", "x", actor="ben")
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
        # the import is not offered again; another coder's undo of other rows is not held up by the one under way
        assert s.undoable(coder="analyst").action == "project.setting"
        assert s.undo(coder="ben").summary == "Set ben's"
        assert s.pending_undo() is not None
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


def _coder_process(path: str, coder: str, segs: list[int], codes: list[int], start: object) -> None:
    from thematic.store import UndoConflict as Refused

    store = Store.open(path)
    rnd = random.Random(coder)
    start.wait(30)  # type: ignore[attr-defined]
    for _ in range(150):
        r = rnd.random()
        try:
            if r < 0.55:
                apply_code(store, rnd.choice(segs), rnd.choice(codes), coder)
            elif r < 0.7:
                remove_coding(store, rnd.choice(segs), rnd.choice(codes), coder)
            elif r < 0.9:
                store.undo(coder=coder)
            else:
                store.redo(coder=coder)
        except (NothingToUndo, Refused):
            pass
    store.close()


def test_three_coder_processes_undoing_at_random_only_ever_revert_their_own_changes(tmp_path: Path) -> None:
    """Three processes code and undo/redo their own work at the same time: every undo and redo in the audit trail
    reverted a change of the coder who asked for it, and the file is consistent."""
    import multiprocessing as mp

    from .test_concurrency import _start

    path = tmp_path / "shared.db"
    with Store(path) as s:
        segs = _corpus(s, 10)
        codes = [ensure_path(s, f"T/C{i}", actor="lead") for i in range(3)]
        first = s.scalar("SELECT max(id) FROM audit")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_coder_process, args=(str(path), c, segs, codes, start)) for c in ("anna", "ben", "cara")]
    _start(procs)
    start.set()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with Store.open(path) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        reverts = s.query("SELECT u.actor, t.actor AS target_actor, u.action FROM audit u JOIN audit t ON t.id = u.undo_of "
                          "WHERE u.id > ? AND u.action IN ('undo', 'redo')", (first,))
        assert len(reverts) > 30
        assert [(r[0], r[1]) for r in reverts if r[0] != r[1]] == []
        # each coder's codings are exactly what that coder's own changes still in effect made: undo each coder's
        # work, coder by coder, and nothing of the others' moves
        for coder in ("anna", "ben", "cara"):
            others = {c: _mine(s, c) for c in ("anna", "ben", "cara") if c != coder}
            while (ev := s.undoable(coder=coder)) is not None and ev.id > first:
                s.undo(coder=coder)
            assert _mine(s, coder) == set()
            assert {c: _mine(s, c) for c in others} == others


def test_a_project_from_before_per_coder_undo_is_migrated_and_its_history_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thematic import schema

    path = tmp_path / "old.db"
    old = [m for m in schema.MIGRATIONS if m.version < 15]
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", old)
        with Store(path) as s:
            assert "tbl" not in {r[1] for r in s.query("PRAGMA table_info(undo_log)")}
            code = add_code(s, "Wai'ting", actor="anna")
            update_code(s, code, name="Waiting times", actor="anna")
            update_code(s, code, name="Waiting for care", actor="ben")
    with Store(path) as s:  # migration 15: every old undo entry is given its table and rowid
        assert s.scalar("SELECT count(*) FROM undo_log WHERE tbl IS NULL") == 0
        assert {tuple(r) for r in s.query("SELECT DISTINCT tbl, lo FROM undo_log")} == {("codes", code)}
        with pytest.raises(UndoConflict, match="by ben"):
            s.undo(coder="anna")
        s.undo(coder="ben")
        s.undo(coder="anna")
        assert s.scalar("SELECT name FROM codes") == "Wai'ting"


def test_cli_refuses_a_conflicting_undo_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        code = add_code(s, "Waiting", actor="anna")
        update_code(s, code, name="Waiting times", actor="anna")
        update_code(s, code, name="Waiting for care", actor="ben")
    before = db.read_bytes()
    r = subprocess.run([sys.executable, "-m", "thematic", "undo", str(db), "--coder", "anna"], capture_output=True,
                       text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: cannot undo 'Rename 'Waiting' to 'Waiting times''")
    assert "by ben" in r.stderr and "Traceback" not in r.stderr
    with Store.open(db) as s:
        assert s.scalar("SELECT name FROM codes") == "Waiting for care"
        assert [e.action for e in s.audit_log()][:1] == ["code.update"]
    assert len(db.read_bytes()) == len(before)


def test_a_chunked_undo_of_a_cascade_brings_back_parents_and_children(store: Store,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleting a code deletes its codings (logged after the code), so its undo re-inserts the codings before the
    code: a chunk must not end between them (the foreign keys would fail at its commit)."""
    from thematic.codebook import delete_code

    monkeypatch.setattr(store_module, "UNDO_CHUNK_ROWS", 7)
    segs = _corpus(store, 15)
    theme = ensure_path(store, "Environment/Heat", actor="lead")
    parent = store.scalar("SELECT parent_id FROM codes WHERE id = ?", (theme,))
    from thematic.coding import apply_code_many

    apply_code_many(store, segs, theme, "anna")
    apply_code_many(store, segs, theme, "ben")
    full = dump(store)
    delete_code(store, parent, actor="lead")
    assert store.counts()["codings"] == 0
    store.undo(coder="lead")
    assert dump(store) == full
    store.redo(coder="lead")
    assert store.counts()["codings"] == 0
    store.undo(coder="lead")
    assert dump(store) == full


def test_an_undo_stopped_part_way_by_a_conflict_can_be_abandoned(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Ben codes an imported segment while Anna's undo of the import is under way: the undo stops (one line naming
    Ben's change) before it would delete Ben's coding; Anna can give it up, which puts back what was undone."""
    monkeypatch.setattr(store_module, "UNDO_CHUNK_ROWS", 40)
    db = tmp_path / "p.db"
    with Store(db) as s:
        ingest_file(s, _forms_csv(tmp_path / "f.csv", 60), unit="response", actor="anna")
        code = ensure_path(s, "T/Heat", actor="ben")
        ensure_coder(s, "ben", actor="ben")
        imported = dump(s)
        last_segment = int(s.scalar("SELECT max(id) FROM segments"))
        coded: list[bool] = []

        def between_chunks(_seconds: float) -> None:
            if not coded:  # once, after the first chunk: Ben codes a segment the undo has not reached yet
                with Store.open(db) as other:
                    apply_code(other, last_segment, code, "ben")
                coded.append(True)

        monkeypatch.setattr(store_module.time, "sleep", between_chunks)
        with pytest.raises(UndoConflict, match="by ben") as err:
            s.undo(coder="anna")
        assert "\n" not in str(err.value) and "part-way" in str(err.value)
        assert s.pending_undo() is not None
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert _mine(s, "ben") == {(last_segment, code)}
        assert main(["log", str(db)]) == 0
    assert main(["undo", str(db), "--abandon", "--coder", "anna"]) == 0
    with Store.open(db) as s:
        assert s.pending_undo() is None
        now = dump(s)
        for table in ("forms", "form_meta", "answers", "segments", "sources", "questions"):
            assert now[table] == imported[table]
        assert _mine(s, "ben") == {(last_segment, code)}
        # once Ben's coding is undone, Anna's undo of the import goes through
        s.undo(coder="ben")
        s.undo(coder="anna")
        assert s.counts()["forms"] == 0
