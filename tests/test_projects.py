"""The projects folder: names, never paths; uploads checked before they land."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from thematic import projects
from thematic.errors import Conflict, InvalidInput, NotFound
from thematic.store import Store


@pytest.mark.parametrize("bad", ["", "  ", "../x", "a/b", "a\\b", "..", "x..y", ".hidden", "/etc/passwd",
                                 "name\x00", "tab\tname", "x" * 101, "~root"])
def test_bad_names_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        projects.resolve(tmp_path, bad)


def test_good_names_resolve_inside_the_folder(tmp_path: Path) -> None:
    assert projects.resolve(tmp_path, "evaluation") == (tmp_path / "evaluation.db").resolve()
    assert projects.resolve(tmp_path, "Ward 3 (2024).db") == (tmp_path / "Ward 3 (2024).db").resolve()
    assert projects.clean_name("  demo.db ") == "demo"


def test_a_symlink_out_of_the_folder_is_not_a_project(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "projects"
    folder.mkdir()
    (folder / "escape.db").symlink_to(outside / "victim.db")
    with pytest.raises(InvalidInput):
        projects.resolve(folder, "escape")
    assert projects.names(folder) == []


def test_create_list_open(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    assert projects.list_projects(folder) == []
    path = projects.create(folder, "beta", title="Beta study")
    projects.create(folder, "Alpha")
    (folder / "notes.txt").write_text("not a project")
    assert projects.names(folder) == ["Alpha", "beta"]
    assert path == (folder / "beta.db").resolve()
    with projects.open_project(folder, "beta") as store:
        assert store.get_setting("title") == "Beta study"
    with pytest.raises(Conflict):
        projects.create(folder, "beta")
    with pytest.raises(NotFound):
        projects.open_project(folder, "gamma")
    assert not (folder / "gamma.db").exists()  # opening never creates


def _project_bytes(tmp_path: Path) -> bytes:
    src = tmp_path / "src.db"
    with Store(src) as store:
        store.set_setting("title", "Uploaded", actor="ana")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return src.read_bytes()


def test_an_uploaded_project_is_copied_in_after_the_check(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    data = _project_bytes(tmp_path)
    path = projects.add_file(folder, "uploaded", data)
    with Store.open(path) as store:
        assert store.get_setting("title") == "Uploaded"
    assert sorted(p.name for p in folder.iterdir()) == ["uploaded.db"]
    # never replaces a project of that name
    with pytest.raises(Conflict):
        projects.add_file(folder, "uploaded", b"SQLite format 3\x00" + b"\x00" * 100)
    with Store.open(path) as store:
        assert store.get_setting("title") == "Uploaded"


def test_a_foreign_sqlite_file_is_refused_and_nothing_lands(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    other = tmp_path / "history.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(InvalidInput, match="not a thematic project"):
        projects.add_file(folder, "history", before)
    with pytest.raises(InvalidInput, match="not a thematic project"):
        projects.add_file(folder, "text", b"hello, this is text")
    with pytest.raises(InvalidInput, match="not a thematic project"):
        projects.check_upload(other)
    assert other.read_bytes() == before  # checked read-only
    assert os.listdir(folder) == []  # no temporary file left behind


def test_an_upload_is_judged_by_the_same_rule_as_opening(tmp_path: Path) -> None:
    """Another program's database that happens to have tables named like thematic's is not a project, because
    its application id says whose it is; opening it and uploading it give the same answer."""
    from thematic.errors import NotAProject

    other = tmp_path / "lookalike.db"
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA application_id = 1234")
    for t in ("migrations", "project", "audit", "undo_log", "undo_state", "forms", "segments", "codes", "codings"):
        conn.execute(f"CREATE TABLE {t} (id INTEGER)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(InvalidInput, match="another program: application id 0x4d2"):
        projects.check_upload(other)
    with pytest.raises(NotAProject):
        Store.open(other)
    assert other.read_bytes() == before
