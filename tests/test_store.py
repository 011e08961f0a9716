"""The store: migrations, WAL and foreign keys, audited actions, exact undo and redo."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from thematic import schema
from thematic.errors import NotFound, NothingToUndo, SchemaTooNew, ThematicError
from thematic.store import Store

from .conftest import dump


def _add_coder(store: Store, name: str) -> int:
    with store.action("coder.add", f"Add {name}", actor=name) as act:
        return act.insert("INSERT INTO coders (name, created_at) VALUES (?, 't')", (name,))


def test_new_file_has_wal_foreign_keys_and_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with Store(path) as s:
        assert s.scalar("PRAGMA journal_mode") == "wal"
        assert s.scalar("PRAGMA foreign_keys") == 1
        assert s.version == schema.latest_version()
        applied = [r[0] for r in s.query("SELECT version FROM migrations ORDER BY version")]
        assert applied == [m.version for m in schema.MIGRATIONS]


def test_open_missing_project_is_not_found_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(NotFound, match="no project at"):
        Store.open(path)
    assert not path.exists()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello")
    with pytest.raises(ThematicError, match="not a thematic project"):
        Store.open(path)
    assert path.read_text() == "hello"


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        with store.action("x", "bad") as act:
            act.execute("INSERT INTO forms (external_id, source_id) VALUES ('f1', 999)")
    assert store.counts()["forms"] == 0


def test_failed_action_leaves_no_trace(store: Store) -> None:
    before = dump(store)
    events = len(store.audit_log())
    with pytest.raises(RuntimeError):
        with store.action("coder.add", "Add") as act:
            act.execute("INSERT INTO coders (name, created_at) VALUES ('a', 't')")
            raise RuntimeError("boom")
    assert dump(store) == before
    assert len(store.audit_log()) == events


def test_every_action_is_audited_with_actor_and_details(store: Store) -> None:
    with store.action("coder.add", "Add anna", actor="anna", details={"k": 1}) as act:
        act.execute("INSERT INTO coders (name, created_at) VALUES ('anna', 't')")
        act.details["extra"] = "yes"
    (event,) = store.audit_log()
    assert (event.actor, event.action, event.summary) == ("anna", "coder.add", "Add anna")
    assert event.details == {"k": 1, "extra": "yes"}


def test_nested_actions_are_one_event_and_one_undo(store: Store) -> None:
    with store.action("outer", "Outer"):
        _add_coder(store, "a")
        _add_coder(store, "b")
    assert [e.action for e in store.audit_log()] == ["outer"]
    store.undo()
    assert store.counts()["coders"] == 0


def test_undo_restores_inserts_updates_and_deletes_exactly(store: Store) -> None:
    a = _add_coder(store, "a")
    with store.action("code.add", "Add codes") as act:
        t = act.insert("INSERT INTO codes (name, created_at) VALUES ('Theme', 't')")
        act.insert("INSERT INTO codes (parent_id, name, definition, created_at) VALUES (?, 'Sub', 'it''s', 't')", (t,))
    snapshot = dump(store)
    with store.action("code.edit", "Edit") as act:
        act.execute("UPDATE codes SET name = 'Renamed', definition = 'x''y' WHERE id = ?", (t,))
        act.execute("DELETE FROM coders WHERE id = ?", (a,))
    with store.action("code.delete", "Delete theme (cascades to the subtheme)") as act:
        act.execute("DELETE FROM codes WHERE id = ?", (t,))
    assert store.counts()["codes"] == 0
    store.undo()
    store.undo()
    assert dump(store) == snapshot


def test_undo_redo_stack(store: Store) -> None:
    _add_coder(store, "a")
    _add_coder(store, "b")
    one, two = dump(store), None
    _add_coder(store, "c")
    two = dump(store)
    assert store.undo().summary == "Add c"
    assert dump(store) == one
    assert store.redo().summary == "Add c"
    assert dump(store) == two
    store.undo()
    store.undo()
    store.redo()
    assert dump(store) == one
    store.redo()
    assert dump(store) == two
    with pytest.raises(NothingToUndo):
        store.redo()


def test_undo_of_a_redo_and_redo_is_cleared_by_a_new_change(store: Store) -> None:
    _add_coder(store, "a")
    store.undo()
    store.redo()
    assert store.counts()["coders"] == 1
    store.undo()
    assert store.counts()["coders"] == 0
    _add_coder(store, "z")
    with pytest.raises(NothingToUndo, match="nothing to redo"):
        store.redo()
    store.undo()
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        store.undo()


def test_undo_with_nothing_done(store: Store) -> None:
    with pytest.raises(NothingToUndo):
        store.undo()


def test_undone_events_are_marked_in_the_log(store: Store) -> None:
    _add_coder(store, "a")
    store.undo()
    log = store.audit_log()
    assert [e.action for e in log] == ["undo", "coder.add"]
    assert log[1].undone and log[1].undone_by == log[0].id and log[0].undo_of == log[1].id


def test_embeddings_cache_is_not_undoable(store: Store) -> None:
    with store.action("x", "cache") as act:
        act.execute("INSERT INTO embeddings VALUES ('m', 'h', 1, x'00')")
    assert store.scalar("SELECT count(*) FROM undo_log") == 0
    assert store.audit_log() == []  # nothing undoable changed, so no event


def test_unchanged_actions_leave_no_event_unless_asked(store: Store) -> None:
    with store.action("noop", "Nothing"):
        pass
    with store.action("export", "Exported the codebook", keep_if_unchanged=True):
        pass
    assert [e.action for e in store.audit_log()] == ["export"]
    with pytest.raises(NothingToUndo):
        store.undo()


def test_migration_backs_up_the_old_file_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.db"
    with Store(path) as s:
        _add_coder(s, "a")
    calls: list[int] = []

    def add_column(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("ALTER TABLE coders ADD COLUMN colour TEXT NOT NULL DEFAULT ''")

    version = schema.latest_version() + 1
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, schema.Migration(version, "add_column", add_column)])
    with Store(path) as s:
        assert s.version == version
        assert s.query_one("SELECT colour FROM coders")[0] == ""
        # the new column is covered by undo too
        with s.action("coder.edit", "colour") as act:
            act.execute("UPDATE coders SET colour = 'red'")
        s.undo()
        assert s.scalar("SELECT colour FROM coders") == ""
    backup = tmp_path / f"p.db.bak-v{version - 1}"
    assert backup.exists()
    with sqlite3.connect(backup) as old:
        assert old.execute("PRAGMA user_version").fetchone()[0] == version - 1
    with Store(path):
        pass
    assert calls == [1]


def test_a_migration_recorded_between_others_is_still_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.db"
    first = schema.MIGRATIONS[0]
    late = schema.latest_version() + 10
    monkeypatch.setattr(schema, "MIGRATIONS", [first, schema.Migration(late, "late", lambda c: c.execute("CREATE TABLE late (x)"))])
    with Store(path):
        pass

    def middle(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE middle (y)")

    monkeypatch.setattr(schema, "MIGRATIONS", [first, schema.Migration(late - 5, "middle", middle), schema.MIGRATIONS[-1]])
    with Store(path) as s:
        assert s.version == late
        assert s.scalar("SELECT count(*) FROM middle") == 0


def test_a_file_from_a_newer_thematic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with Store(path) as s:
        s.conn.execute("PRAGMA user_version = 999")
    with pytest.raises(SchemaTooNew):
        Store.open(path)


def test_counts_and_settings(store: Store) -> None:
    store.set_setting("title", "CMT evaluation")
    store.set_setting("title", "CMT for All")
    assert store.get_setting("title") == "CMT for All"
    assert store.get_setting("missing", "d") == "d"
    assert set(store.counts()) >= {"forms", "questions", "answers", "segments", "codes", "codings", "memos"}


def test_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as s:
        _add_coder(s, "a")
        target = s.backup(tmp_path / "copy.db")
    with Store.open(target) as copy:
        assert copy.counts()["coders"] == 1


def test_undo_reads_back_every_kind_of_value_exactly(store: Store) -> None:
    """Re-inserted rows are read back from the logged SQL literals: every type round-trips."""
    values = ["it's", "a,b\n'c', NULL", "", "Ünïcode ✓", "X'00'", "-1", "1e5"]
    with store.action("code.add", "Add") as act:
        for i, v in enumerate(values):
            act.execute("INSERT INTO codes (name, definition, colour, position, created_at) VALUES (?, ?, ?, ?, ?)",
                        (f"c{i}", v, v[::-1], i * 2**40, "t"))
        act.execute("INSERT INTO embeddings VALUES ('m', 'h', 1, x'00ff')")
    with store.action("x", "scores") as act:
        act.execute("INSERT INTO cluster_runs (created_at, model_id, seed, params, n_segments, seconds) "
                    "VALUES ('t', 'm', -3, '{}', 0, ?)", (1 / 3,))
        act.execute("INSERT INTO cluster_runs (created_at, model_id, seed, params, n_segments, seconds) "
                    "VALUES ('t', 'm', 0, '{}', 0, ?)", (-2.5e-300,))
    full = dump(store)
    with store.action("code.delete", "Delete all") as act:
        act.execute("DELETE FROM codes")
        act.execute("DELETE FROM cluster_runs")
    store.undo()
    assert dump(store) == full
    store.redo()
    store.undo()
    assert dump(store) == full
